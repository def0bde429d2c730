from batchtui.cli import main

main()

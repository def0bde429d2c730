"""Jobs: one dataset through one model, carried to the end across as many batches as it takes.

A job is planned once (`plan`: the input cut into parts within the API's limits, every part validated, the cost
estimated) and then advanced (`runner`) pass by pass by whichever process holds its lease: parts are submitted
while the model's enqueued-token budget and the cost ceiling allow, requests that failed for a passing reason are
sent again as new batches, and a part refused for the enqueued-token limit waits and goes again. Every step is
written to the cache (`store`) before and after it is taken, so a job survives any crash or kill and no part
attempt ever becomes two batches. `results` reads a whole job back: one index per part, one export.
"""

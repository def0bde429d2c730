/* Quick scan of batch JSONL files for the result index (batchtui.core.results).

   Finding 100,000 line breaks and matching each line's head from Python costs about a microsecond a line in
   interpreter overhead, several times the cost of reading 300 MB. This does the same per-line work in C, with
   the GIL released so the viewer's event loop keeps running while a big file is indexed.

   Only the layout OpenAI writes is read here; any other line makes the whole chunk go to the Python line reader,
   which parses what this declines. Lines are never parsed as JSON here: the index needs only each line's
   place, custom_id and status code. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Heads of an input line and an output line. ' ' stands for one optional space, '@' for a string's characters
   (no quote, backslash or newline: an id with escapes is left to the Python reader), '#' for a 2xx status. */
static const char INPUT_HEAD[] = "{\"custom_id\": \"@\"";
static const char OUTPUT_HEAD[] = "{\"id\": \"@\", \"custom_id\": \"@\", \"response\": {\"status_code\": #";

typedef struct {
    const char *id;      /* the last '@' matched: custom_id in both heads */
    Py_ssize_t id_len;
    int32_t status;      /* 0 when the head has no '#' */
} Head;

static int is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Whether [p, end) starts with `pattern`; fills `head`. */
static int match_head(const char *p, const char *end, const char *pattern, Head *head) {
    head->status = 0;
    for (; *pattern; pattern++) {
        switch (*pattern) {
        case ' ':
            if (p < end && *p == ' ')
                p++;
            break;
        case '@':
            head->id = p;
            while (p < end && *p != '"' && *p != '\\')
                p++;
            head->id_len = p - head->id;
            break;
        case '#':
            if (end - p < 3 || p[0] != '2' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
                return 0;
            head->status = 200 + (p[1] - '0') * 10 + (p[2] - '0');
            p += 3;
            if (p < end && is_word((unsigned char)*p))
                return 0;
            break;
        default:
            if (p >= end || *p != *pattern)
                return 0;
            p++;
        }
    }
    return 1;
}

/* Whether the line closes its object: "}" after any trailing ASCII whitespace, so a cut-off line is not
   trusted. */
static int ends_object(const char *start, const char *end) {
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\v' ||
                           end[-1] == '\f'))
        end--;
    return end > start && end[-1] == '}';
}

typedef struct {
    char *data;
    size_t len, cap;
} Bytes;

static int put(Bytes *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *data = PyMem_RawRealloc(b->data, cap);
        if (data == NULL)
            return 0;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 1;
}

static PyObject *as_bytes(Bytes *b) {
    return PyBytes_FromStringAndSize(b->len ? b->data : "", (Py_ssize_t)b->len);
}

PyDoc_STRVAR(scan_doc,
"scan(buf, pos, max_lines, output) -> (next_pos, starts, lengths, ids, statuses)\n\n"
"Find up to max_lines lines of buf from pos (blank lines included; a line's length excludes its newline).\n"
"starts and lengths are native int64 arrays as bytes. When every line has the head of an input line\n"
"(output false) or of a 2xx output line (output true) and closes its object, ids holds their custom_ids\n"
"joined by newlines and statuses (output only) their status codes as native int32s; otherwise both are None.");

static PyObject *scan(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, max_lines;
    int output;
    if (!PyArg_ParseTuple(args, "y*nnp", &view, &pos, &max_lines, &output))
        return NULL;
    const char *data = view.buf, *stop = data + view.len;
    if (pos < 0 || pos > view.len || max_lines < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos or max_lines out of range");
        return NULL;
    }
    Bytes starts = {0}, lengths = {0}, ids = {0}, statuses = {0};
    const char *pattern = output ? OUTPUT_HEAD : INPUT_HEAD;
    int readable = 1, ok = 1;
    const char *p = data + pos;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t n = 0; n < max_lines && p < stop && ok; n++) {
        const char *newline = memchr(p, '\n', (size_t)(stop - p));
        const char *end = newline ? newline : stop;
        int64_t start = p - data, length = end - p;
        ok = put(&starts, &start, sizeof start) && put(&lengths, &length, sizeof length);
        if (readable && ok) {
            Head head;
            readable = match_head(p, end, pattern, &head) && ends_object(p, end);
            if (readable)
                ok = (n == 0 || put(&ids, "\n", 1)) && put(&ids, head.id, (size_t)head.id_len) &&
                     (!output || put(&statuses, &head.status, sizeof head.status));
        }
        p = newline ? newline + 1 : stop;
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (ok) {
        PyObject *parts[4] = {as_bytes(&starts), as_bytes(&lengths), readable ? as_bytes(&ids) : Py_NewRef(Py_None),
                              readable && output ? as_bytes(&statuses) : Py_NewRef(Py_None)};
        if (parts[0] && parts[1] && parts[2] && parts[3])
            result = Py_BuildValue("nOOOO", (Py_ssize_t)(p - data), parts[0], parts[1], parts[2], parts[3]);
        for (int i = 0; i < 4; i++)
            Py_XDECREF(parts[i]);
    } else {
        PyErr_NoMemory();
    }
    PyMem_RawFree(starts.data);
    PyMem_RawFree(lengths.data);
    PyMem_RawFree(ids.data);
    PyMem_RawFree(statuses.data);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_linescan",
    .m_doc = "Quick scan of batch JSONL files for the result index.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__linescan(void) {
    return PyModule_Create(&module);
}

/* Bencode (BEP 3) in C: the accelerator of bitswarm.core.bencode.
 *
 * Why: torrents with many files are megabytes of bencode, and the pure-Python
 * decoder manages some tens of MB/s. This module implements exactly the same
 * decoder and encoder as the Python reference in bencode.py -- the same rules,
 * the same BencodeError reasons and offsets, the same TypeError/ValueError
 * texts -- and the tests hold the two to each other on arbitrary input.
 *
 * Theory of operation
 * -------------------
 * decode() is a recursive descent whose depth is bounded by max_depth (which
 * the Python side caps), so hostile nesting cannot exhaust the C stack. Every
 * read is checked against the end of the buffer, and every length is compared
 * with the bytes actually present before anything is allocated. Errors are
 * raised by calling the BencodeError class handed to configure() with
 * (reason, offset). Dictionary keys are compared in place in the input buffer,
 * so checking the canonical order costs no allocation.
 *
 * encode() appends to one growing buffer. It visits dictionary keys first (so
 * a bad or colliding key is reported before any value), then writes them in
 * sorted order, exactly as the reference does.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdarg.h>
#include <string.h>

#define MAX_LENGTH_DIGITS 20  /* as bencode.MAX_LENGTH_DIGITS */
#define SHOWN_BYTES 40        /* how much of a bad token an error message quotes */
#define DEPTH_LIMIT 10000     /* recursion this module refuses outright */
#define INT_DIGITS_LIMIT 4000 /* below Python's int/str conversion limit */

static PyObject *error_class;   /* bitswarm.core.bencode.BencodeError */
static PyObject *mapping_class; /* collections.abc.Mapping */

/* ---- errors ------------------------------------------------------------- */

/* Raise BencodeError(reason, offset); always returns NULL. */
static PyObject *
fail(Py_ssize_t offset, const char *format, ...)
{
    va_list va;
    va_start(va, format);
    PyObject *reason = PyUnicode_FromFormatV(format, va);
    va_end(va);
    if (reason == NULL) {
        return NULL;
    }
    PyObject *error = PyObject_CallFunction(error_class, "On", reason, offset);
    Py_DECREF(reason);
    if (error != NULL) {
        PyErr_SetObject(error_class, error);
        Py_DECREF(error);
    }
    return NULL;
}

/* Raise BencodeError with the repr of up to SHOWN_BYTES bytes at text in it (one %R). */
static PyObject *
fail_quoting(Py_ssize_t offset, const char *format, const char *text, Py_ssize_t size)
{
    PyObject *shown = PyBytes_FromStringAndSize(text, size < SHOWN_BYTES ? size : SHOWN_BYTES);
    if (shown == NULL) {
        return NULL;
    }
    fail(offset, format, shown);
    Py_DECREF(shown);
    return NULL;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    const char *data;
    Py_ssize_t end;
    int strict;
    int max_depth;
    Py_ssize_t max_int_digits;
} Decoder;

static inline int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
all_digits(const char *p, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        if (!is_digit(p[k])) {
            return 0;
        }
    }
    return 1;
}

static PyObject *decode_value(Decoder *d, Py_ssize_t *pos, int depth);

/* Parse the string at i (data[i] is a digit): its payload starts at *start, *size long. */
static int
string_span(Decoder *d, Py_ssize_t i, Py_ssize_t *start, Py_ssize_t *size)
{
    const char *data = d->data;
    Py_ssize_t window = d->end - i < MAX_LENGTH_DIGITS + 1 ? d->end - i : MAX_LENGTH_DIGITS + 1;
    const char *colon = memchr(data + i, ':', (size_t)window);
    if (colon == NULL) {
        if (!all_digits(data + i, window)) {
            fail(i, "malformed string length");
        }
        else if (window > MAX_LENGTH_DIGITS) {
            fail(i, "string length longer than %d digits", MAX_LENGTH_DIGITS);
        }
        else {
            fail(i, "truncated string length");
        }
        return -1;
    }
    Py_ssize_t ndigits = colon - (data + i);
    if (!all_digits(data + i, ndigits)) {
        fail(i, "malformed string length");
        return -1;
    }
    if (ndigits > 1 && data[i] == '0') {
        fail(i, "string length with a leading zero");
        return -1;
    }
    unsigned long long length = 0; /* 19 digits always fit; 20 may not */
    for (Py_ssize_t k = 0; k < ndigits && k < 19; k++) {
        length = length * 10 + (unsigned long long)(data[i + k] - '0');
    }
    Py_ssize_t first = i + ndigits + 1;
    Py_ssize_t left = d->end - first;
    if (ndigits > 19 || length > (unsigned long long)left) {
        char digits[MAX_LENGTH_DIGITS + 1];
        memcpy(digits, data + i, (size_t)ndigits);
        digits[ndigits] = '\0';
        fail(i, "truncated string: length %s but %zd bytes left", digits, left);
        return -1;
    }
    *start = first;
    *size = (Py_ssize_t)length;
    return 0;
}

static PyObject *
decode_string(Decoder *d, Py_ssize_t *pos)
{
    Py_ssize_t start, size;
    if (string_span(d, *pos, &start, &size) < 0) {
        return NULL;
    }
    *pos = start + size;
    return PyBytes_FromStringAndSize(d->data + start, size);
}

static PyObject *
decode_integer(Decoder *d, Py_ssize_t *pos)
{
    const char *data = d->data;
    Py_ssize_t i = *pos, limit = d->max_int_digits;
    /* The longest valid body is a sign and `limit` digits; look one byte further. */
    Py_ssize_t window = d->end - (i + 1) < limit + 2 ? d->end - (i + 1) : limit + 2;
    const char *e = memchr(data + i + 1, 'e', (size_t)window);
    Py_ssize_t text = i + 1;
    Py_ssize_t text_end = e != NULL ? e - data : text + window;
    Py_ssize_t first = text < text_end && data[text] == '-' ? text + 1 : text;
    Py_ssize_t ndigits = text_end - first;
    int digits_ok = ndigits > 0 && all_digits(data + first, ndigits);
    if (!((e == NULL && ndigits == 0) || digits_ok)) {
        return fail_quoting(i, "malformed integer %R", data + text, text_end - text);
    }
    if (ndigits > limit) {
        return fail(i, "integer longer than %zd digits", limit);
    }
    if (e == NULL) {
        return fail(i, "truncated integer");
    }
    if (data[first] == '0' && (ndigits > 1 || first != text)) {
        return fail_quoting(i, "non-canonical integer %R", data + text, text_end - text);
    }
    *pos = text_end + 1;
    if (ndigits <= 18) {
        long long value = 0;
        for (Py_ssize_t k = first; k < text_end; k++) {
            value = value * 10 + (data[k] - '0');
        }
        return PyLong_FromLongLong(first != text ? -value : value);
    }
    PyObject *literal = PyUnicode_FromStringAndSize(data + text, text_end - text);
    if (literal == NULL) {
        return NULL;
    }
    PyObject *value = PyLong_FromUnicodeObject(literal, 10);
    Py_DECREF(literal);
    return value;
}

static PyObject *
decode_list(Decoder *d, Py_ssize_t *pos, int depth)
{
    Py_ssize_t i = *pos;
    if (depth > d->max_depth) {
        return fail(i, "nesting deeper than %d", d->max_depth);
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    i++;
    while (i < d->end && d->data[i] != 'e') {
        PyObject *item = decode_value(d, &i, depth);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    if (i >= d->end) {
        Py_DECREF(list);
        return fail(i, "truncated list");
    }
    *pos = i + 1;
    return list;
}

/* Compare two keys as Python compares bytes. */
static int
compare_keys(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb)
{
    int c = memcmp(a, b, (size_t)(na < nb ? na : nb));
    if (c != 0) {
        return c;
    }
    return na < nb ? -1 : na > nb;
}

/* Refuse a key that repeats or breaks the order; 0 when it may be added. */
static int
check_key(Decoder *d, PyObject *dict, PyObject *key, int after_previous, Py_ssize_t at)
{
    const char *text = PyBytes_AS_STRING(key);
    Py_ssize_t size = PyBytes_GET_SIZE(key);
    if (after_previous && d->strict) {
        return 0; /* strictly increasing keys cannot repeat */
    }
    int seen = PyDict_Contains(dict, key);
    if (seen < 0) {
        return -1;
    }
    if (seen) {
        fail_quoting(at, "duplicate dictionary key %R", text, size);
        return -1;
    }
    if (!after_previous && d->strict) {
        fail_quoting(at, "dictionary key %R out of order", text, size);
        return -1;
    }
    return 0;
}

/* Decode the dictionary at *pos; with spans, record each value's (start, end). */
static PyObject *
decode_dict(Decoder *d, Py_ssize_t *pos, int depth, PyObject *spans)
{
    const char *data = d->data;
    Py_ssize_t i = *pos;
    if (depth > d->max_depth) {
        return fail(i, "nesting deeper than %d", d->max_depth);
    }
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return NULL;
    }
    const char *previous = NULL;
    Py_ssize_t previous_size = 0;
    i++;
    while (i < d->end && data[i] != 'e') {
        if (!is_digit(data[i])) {
            fail(i, "dictionary key is not a byte string");
            goto error;
        }
        Py_ssize_t key_at = i, key_start, key_size;
        if (string_span(d, i, &key_start, &key_size) < 0) {
            goto error;
        }
        i = key_start + key_size;
        int after_previous = previous == NULL || compare_keys(data + key_start, key_size,
                                                              previous, previous_size) > 0;
        PyObject *key = PyBytes_FromStringAndSize(data + key_start, key_size);
        if (key == NULL) {
            goto error;
        }
        if (check_key(d, dict, key, after_previous, key_at) < 0) {
            Py_DECREF(key);
            goto error;
        }
        Py_ssize_t value_start = i;
        PyObject *value = decode_value(d, &i, depth);
        int stored = value != NULL ? PyDict_SetItem(dict, key, value) : -1;
        Py_XDECREF(value);
        if (stored == 0 && spans != NULL) {
            PyObject *span = Py_BuildValue("(nn)", value_start, i);
            stored = span != NULL ? PyDict_SetItem(spans, key, span) : -1;
            Py_XDECREF(span);
        }
        Py_DECREF(key);
        if (stored < 0) {
            goto error;
        }
        previous = data + key_start;
        previous_size = key_size;
    }
    if (i >= d->end) {
        fail(i, "truncated dictionary");
        goto error;
    }
    *pos = i + 1;
    return dict;
error:
    Py_DECREF(dict);
    return NULL;
}

static PyObject *
decode_value(Decoder *d, Py_ssize_t *pos, int depth)
{
    Py_ssize_t i = *pos;
    if (i >= d->end) {
        return fail(i, "truncated input, expected a value");
    }
    char c = d->data[i];
    if (is_digit(c)) {
        return decode_string(d, pos);
    }
    switch (c) {
    case 'i':
        return decode_integer(d, pos);
    case 'l':
        return decode_list(d, pos, depth + 1);
    case 'd':
        return decode_dict(d, pos, depth + 1, NULL);
    default:
        return fail_quoting(i, "unexpected byte %R, expected a value", d->data + i, 1);
    }
}

static int
configured(void)
{
    if (error_class == NULL || mapping_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bitswarm.core._bencode.configure() was not called");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(decode_doc,
"decode(data, strict, max_depth, max_int_digits, spans)\n--\n\n"
"Decode all of data (bytes). With a dict for spans, data must hold a dictionary\n"
"and spans receives the (start, end) of each of its values.");

static PyObject *
py_decode(PyObject *module, PyObject *args)
{
    PyObject *data, *spans;
    Decoder d;
    if (!PyArg_ParseTuple(args, "SpinO:decode", &data, &d.strict, &d.max_depth,
                          &d.max_int_digits, &spans) || !configured()) {
        return NULL;
    }
    if (d.max_depth < 0 || d.max_depth > DEPTH_LIMIT || d.max_int_digits < 1 ||
        d.max_int_digits > INT_DIGITS_LIMIT) {
        PyErr_SetString(PyExc_ValueError, "max_depth or max_int_digits out of range");
        return NULL;
    }
    if (spans != Py_None && !PyDict_Check(spans)) {
        PyErr_SetString(PyExc_TypeError, "spans must be a dict or None");
        return NULL;
    }
    d.data = PyBytes_AS_STRING(data);
    d.end = PyBytes_GET_SIZE(data);
    Py_ssize_t pos = 0;
    PyObject *value;
    if (spans == Py_None) {
        value = decode_value(&d, &pos, 0);
    }
    else if (d.end == 0 || d.data[0] != 'd') {
        return fail(0, "expected a dictionary");
    }
    else {
        value = decode_dict(&d, &pos, 1, spans);
    }
    if (value != NULL && pos != d.end) {
        Py_DECREF(value);
        return fail(pos, "%zd bytes of trailing data", d.end - pos);
    }
    return value;
}

/* ---- encoding ----------------------------------------------------------- */

typedef struct {
    char *buffer;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Output;

static int
put(Output *out, const char *bytes, Py_ssize_t n)
{
    if (n > PY_SSIZE_T_MAX - out->size) {
        PyErr_NoMemory();
        return -1;
    }
    if (out->size + n > out->capacity) {
        Py_ssize_t capacity = out->capacity > 0 ? out->capacity : 256;
        while (capacity < out->size + n) {
            capacity = capacity > PY_SSIZE_T_MAX / 2 ? out->size + n : capacity * 2;
        }
        char *grown = PyMem_Realloc(out->buffer, (size_t)capacity);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        out->buffer = grown;
        out->capacity = capacity;
    }
    memcpy(out->buffer + out->size, bytes, (size_t)n);
    out->size += n;
    return 0;
}

/* Write "<len>:<bytes>". */
static int
put_string(Output *out, const char *bytes, Py_ssize_t n)
{
    char prefix[32];
    int written = snprintf(prefix, sizeof prefix, "%zd:", n);
    return put(out, prefix, written) < 0 ? -1 : put(out, bytes, n);
}

static int
put_integer(Output *out, PyObject *value)
{
    int overflow;
    long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (small == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (!overflow) {
        char text[32];
        int written = snprintf(text, sizeof text, "i%llde", small);
        return put(out, text, written);
    }
    PyObject *exact = PyNumber_Index(value);
    PyObject *digits = exact != NULL ? PyObject_Str(exact) : NULL;
    Py_XDECREF(exact);
    if (digits == NULL) {
        return -1;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(digits, &n);
    int result = text == NULL || put(out, "i", 1) < 0 || put(out, text, n) < 0 ? -1
                                                                                 : put(out, "e", 1);
    Py_DECREF(digits);
    return result;
}

static int encode_value(Output *out, PyObject *value, int depth, int max_depth);

static int
check_nesting(int depth, int max_depth)
{
    if (depth >= max_depth) {
        PyErr_Format(PyExc_ValueError, "bencode: nesting deeper than %d", max_depth);
        return -1;
    }
    return 0;
}

/* Add one (key, item) of a mapping to `items`, keyed by the key's raw bytes. */
static int
collect_item(PyObject *items, PyObject *key, PyObject *item)
{
    PyObject *raw;
    if (PyUnicode_Check(key)) {
        raw = PyUnicode_AsUTF8String(key);
        if (raw == NULL) {
            return -1;
        }
    }
    else if (PyBytes_Check(key)) {
        raw = Py_NewRef(key);
    }
    else {
        PyErr_Format(PyExc_TypeError, "bencode dictionary keys must be bytes or str, not %R",
                     (PyObject *)Py_TYPE(key));
        return -1;
    }
    int seen = PyDict_Contains(items, raw);
    if (seen == 1) {
        PyErr_Format(PyExc_ValueError, "bencode: duplicate dictionary key %R", raw);
    }
    int result = seen != 0 ? -1 : PyDict_SetItem(items, raw, item);
    Py_DECREF(raw);
    return result;
}

/* The mapping's items keyed by raw bytes; a key that is not text or bytes, or collides, fails. */
static PyObject *
collect_items(PyObject *mapping)
{
    PyObject *items = PyDict_New();
    PyObject *pairs = PyDict_CheckExact(mapping) ? PyDict_Items(mapping) : PyMapping_Items(mapping);
    if (items == NULL || pairs == NULL) {
        goto error;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *pair = PyList_GET_ITEM(pairs, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "mapping items must be (key, value) pairs");
            goto error;
        }
        if (collect_item(items, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0) {
            goto error;
        }
    }
    Py_DECREF(pairs);
    return items;
error:
    Py_XDECREF(items);
    Py_XDECREF(pairs);
    return NULL;
}

static int
encode_mapping(Output *out, PyObject *mapping, int depth, int max_depth)
{
    if (check_nesting(depth, max_depth) < 0) {
        return -1;
    }
    PyObject *items = collect_items(mapping);
    if (items == NULL) {
        return -1;
    }
    PyObject *keys = PyDict_Keys(items);
    int result = keys == NULL || PyList_Sort(keys) < 0 || put(out, "d", 1) < 0 ? -1 : 0;
    for (Py_ssize_t k = 0; result == 0 && k < PyList_GET_SIZE(keys); k++) {
        PyObject *key = PyList_GET_ITEM(keys, k);
        PyObject *item = PyDict_GetItemWithError(items, key);
        if (item == NULL ||
            put_string(out, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) < 0 ||
            encode_value(out, item, depth + 1, max_depth) < 0) {
            result = -1;
        }
    }
    Py_XDECREF(keys);
    Py_DECREF(items);
    return result < 0 ? -1 : put(out, "e", 1);
}

static int
encode_sequence(Output *out, PyObject *sequence, int depth, int max_depth)
{
    if (check_nesting(depth, max_depth) < 0) {
        return -1;
    }
    PyObject *items = PySequence_Fast(sequence, "cannot iterate");
    if (items == NULL) {
        return -1;
    }
    int result = put(out, "l", 1);
    for (Py_ssize_t k = 0; result == 0 && k < PySequence_Fast_GET_SIZE(items); k++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(items, k));
        result = encode_value(out, item, depth + 1, max_depth);
        Py_DECREF(item);
    }
    Py_DECREF(items);
    return result < 0 ? -1 : put(out, "e", 1);
}

static int
is_mapping(PyObject *value)
{
    if (PyDict_Check(value)) {
        return 1;
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        return 0;
    }
    return PyObject_IsInstance(value, mapping_class);
}

static int
encode_value(Output *out, PyObject *value, int depth, int max_depth)
{
    if (PyBytes_Check(value)) {
        return put_string(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    }
    if (PyByteArray_Check(value)) {
        return put_string(out, PyByteArray_AS_STRING(value), PyByteArray_GET_SIZE(value));
    }
    if (PyMemoryView_Check(value) || PyUnicode_Check(value)) {
        PyObject *raw = PyUnicode_Check(value) ? PyUnicode_AsUTF8String(value)
                                               : PyBytes_FromObject(value);
        if (raw == NULL) {
            return -1;
        }
        int result = put_string(out, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
        Py_DECREF(raw);
        return result;
    }
    if (PyBool_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "bencode has no booleans; use 0 or 1");
        return -1;
    }
    if (PyLong_Check(value)) {
        return put_integer(out, value);
    }
    int mapping = is_mapping(value);
    if (mapping < 0) {
        return -1;
    }
    if (mapping) {
        return encode_mapping(out, value, depth, max_depth);
    }
    if (PyList_Check(value) || PyTuple_Check(value)) {
        return encode_sequence(out, value, depth, max_depth);
    }
    PyObject *name = PyType_GetName(Py_TYPE(value));
    if (name != NULL) {
        PyErr_Format(PyExc_TypeError, "cannot bencode %U", name);
        Py_DECREF(name);
    }
    return -1;
}

PyDoc_STRVAR(encode_doc,
"encode(value, max_depth)\n--\n\n"
"Encode value canonically, nesting at most max_depth lists and dictionaries.");

static PyObject *
py_encode(PyObject *module, PyObject *args)
{
    PyObject *value;
    int max_depth;
    if (!PyArg_ParseTuple(args, "Oi:encode", &value, &max_depth) || !configured()) {
        return NULL;
    }
    if (max_depth < 0 || max_depth > DEPTH_LIMIT) {
        PyErr_SetString(PyExc_ValueError, "max_depth out of range");
        return NULL;
    }
    Output out = {NULL, 0, 0};
    PyObject *result = NULL;
    if (encode_value(&out, value, 0, max_depth) == 0) {
        result = PyBytes_FromStringAndSize(out.buffer, out.size);
    }
    PyMem_Free(out.buffer);
    return result;
}

/* ---- module ------------------------------------------------------------- */

PyDoc_STRVAR(configure_doc,
"configure(error, mapping)\n--\n\n"
"Hand over the BencodeError class to raise and the Mapping ABC to accept.");

static PyObject *
py_configure(PyObject *module, PyObject *args)
{
    PyObject *error, *mapping;
    if (!PyArg_ParseTuple(args, "OO:configure", &error, &mapping)) {
        return NULL;
    }
    if (!PyType_Check(error) || !PyType_Check(mapping) ||
        !PyType_IsSubtype((PyTypeObject *)error, (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes an exception class and a class");
        return NULL;
    }
    Py_XSETREF(error_class, Py_NewRef(error));
    Py_XSETREF(mapping_class, Py_NewRef(mapping));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", py_configure, METH_VARARGS, configure_doc},
    {"decode", py_decode, METH_VARARGS, decode_doc},
    {"encode", py_encode, METH_VARARGS, encode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bitswarm.core._bencode",
    .m_doc = "Bencode (BEP 3) decoder and encoder in C, same semantics as bencode.py.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__bencode(void)
{
    return PyModule_Create(&module_def);
}

/* Guarded file mappings: pages that read as zeros, instead of SIGBUS, when the file shrinks.
 *
 * Hashing a file straight from a read-only memory map saves the copy from the
 * page cache that read() makes, about a tenth of the work of creating or
 * verifying a torrent.  The price of a mapping is that a file truncated while
 * it is mapped raises SIGBUS on the next touch of a page past its new end,
 * and the default action of SIGBUS ends the process.
 *
 * guard(buffer) registers the address range of a mapped buffer (an mmap
 * object).  A SIGBUS inside a registered range maps a page of zeros over the
 * faulting page and counts the fault, so the interrupted read goes on; the
 * caller then sees a nonzero Guard.release() and throws the result away.  A
 * SIGBUS anywhere else goes to the handler installed before this one (or to
 * the default action), exactly as if this module were not there.
 *
 * The handler only reads the range table and calls mmap(2); a range is
 * written before it is published (its end set last) and unpublished before
 * it is cleared, so a fault on another thread never sees half a range.  This
 * is libtorrent's scheme for its memory-mapped disk I/O, reduced to reads.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_GUARDS 64

static struct {
    _Atomic uintptr_t start;
    _Atomic uintptr_t end; /* 0 while the slot is free */
    _Atomic long faults;
} ranges[MAX_GUARDS];

static struct sigaction previous;
static int installed;
static uintptr_t page_mask;

static void
pass_on(int signo, siginfo_t *info, void *context)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(signo, info, context);
    } else if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
        /* the faulting access runs again and meets the old disposition */
        sigaction(SIGBUS, &previous, NULL);
    } else {
        previous.sa_handler(signo);
    }
}

static void
on_sigbus(int signo, siginfo_t *info, void *context)
{
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < MAX_GUARDS; i++) {
        uintptr_t end = atomic_load(&ranges[i].end);
        if (address < end && address >= atomic_load(&ranges[i].start)) {
            void *page = (void *)(address & page_mask);
            if (mmap(page, (size_t)(~page_mask + 1), PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
                atomic_fetch_add(&ranges[i].faults, 1);
                return;
            }
            break;
        }
    }
    pass_on(signo, info, context);
}

static int
install(void)
{
    if (installed)
        return 0;
    page_mask = ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
    struct sigaction action;
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    installed = 1;
    return 0;
}

typedef struct {
    PyObject_HEAD
    Py_buffer view; /* holds the mapping open while guarded */
    int slot;       /* -1 once released */
} Guard;

static long
release_guard(Guard *self)
{
    long faults = 0;
    if (self->slot >= 0) {
        atomic_store(&ranges[self->slot].end, 0);
        atomic_store(&ranges[self->slot].start, 0);
        faults = atomic_exchange(&ranges[self->slot].faults, 0);
        self->slot = -1;
    }
    if (self->view.obj != NULL)
        PyBuffer_Release(&self->view);
    return faults;
}

static void
guard_dealloc(Guard *self)
{
    release_guard(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(release_doc,
"release() -> int\n\n"
"Stops guarding and returns how many pages read as zeros because the file had shrunk\n"
"(0: every byte read was the file's).  Later calls return 0.");

static PyObject *
guard_release(Guard *self, PyObject *unused)
{
    return PyLong_FromLong(release_guard(self));
}

static PyMethodDef guard_methods[] = {
    {"release", (PyCFunction)guard_release, METH_NOARGS, release_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GuardType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bitswarm.storage._shrink_guard.Guard",
    .tp_basicsize = sizeof(Guard),
    .tp_dealloc = (destructor)guard_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The guard of one mapped buffer; see guard().",
    .tp_methods = guard_methods,
};

PyDoc_STRVAR(guard_doc,
"guard(buffer) -> Guard\n\n"
"Guards the pages of buffer, a file mapping, until Guard.release(): a page past the\n"
"file's end reads as zeros instead of raising SIGBUS.  The buffer cannot be closed\n"
"meanwhile.  RuntimeError when 64 buffers are guarded already.");

static PyObject *
guard(PyObject *module, PyObject *buffer)
{
    if (install() < 0)
        return NULL;
    Guard *self = PyObject_New(Guard, &GuardType);
    if (self == NULL)
        return NULL;
    self->slot = -1;
    self->view.obj = NULL;
    if (PyObject_GetBuffer(buffer, &self->view, PyBUF_SIMPLE) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    uintptr_t start = (uintptr_t)self->view.buf;
    for (int i = 0; i < MAX_GUARDS; i++) {
        if (atomic_load(&ranges[i].end) == 0 && atomic_load(&ranges[i].start) == 0) {
            self->slot = i;
            atomic_store(&ranges[i].faults, 0);
            atomic_store(&ranges[i].start, start);
            atomic_store(&ranges[i].end, start + (uintptr_t)self->view.len);
            return (PyObject *)self;
        }
    }
    Py_DECREF(self);
    PyErr_Format(PyExc_RuntimeError, "%d buffers are guarded already", MAX_GUARDS);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"guard", guard, METH_O, guard_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_shrink_guard",
    "Pages of a file mapping that read as zeros, not SIGBUS, once the file shrinks.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__shrink_guard(void)
{
    if (PyType_Ready(&GuardType) < 0)
        return NULL;
    return PyModule_Create(&module_def);
}

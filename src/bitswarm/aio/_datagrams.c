/* Batched datagram I/O for the UDP tracker: recvmmsg(2) and sendmmsg(2).
 *
 * A Python UDP server pays, per datagram, one recvfrom and one sendto, each
 * building or parsing a (host, port) tuple.  Here one system call moves a
 * whole batch, and a source address stays the raw sockaddr it came as, handed
 * back unchanged to send the reply; the packed IP (4 bytes for IPv4 and for
 * IPv4-mapped IPv6, else 16) comes along, since the tracker keys on it.
 *
 * The socket must be non-blocking: an empty queue gives an empty list.  The
 * pure-Python twin, in bitswarm/aio/datagram_batch.py, has the same interface.
 */

#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_BATCH 64
#define MAX_DATAGRAM 2048

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static PyObject *
packed_ip(const struct sockaddr_storage *address, socklen_t length)
{
    if (address->ss_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        return PyBytes_FromStringAndSize((const char *)&v4->sin_addr, 4);
    }
    if (address->ss_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        const unsigned char *ip = ((const struct sockaddr_in6 *)address)->sin6_addr.s6_addr;
        if (memcmp(ip, v4_mapped, sizeof v4_mapped) == 0)
            return PyBytes_FromStringAndSize((const char *)ip + 12, 4);
        return PyBytes_FromStringAndSize((const char *)ip, 16);
    }
    return PyBytes_FromStringAndSize(NULL, 0);
}

PyDoc_STRVAR(receive_doc,
"receive(fd, count) -> list of (data, ip, address)\n\n"
"Up to count (at most 64) waiting datagrams, in one recvmmsg call; [] when none wait.\n"
"ip is the packed source IP, address the raw sockaddr for send().");

static PyObject *
receive_datagrams(PyObject *module, PyObject *args)
{
    int fd, count;
    if (!PyArg_ParseTuple(args, "ii:receive", &fd, &count))
        return NULL;
    if (count < 1 || count > MAX_BATCH) {
        PyErr_Format(PyExc_ValueError, "count must be 1 to %d, not %d", MAX_BATCH, count);
        return NULL;
    }
    static __thread char buffers[MAX_BATCH][MAX_DATAGRAM]; /* the GIL is let go below */
    struct sockaddr_storage addresses[MAX_BATCH];
    struct iovec vectors[MAX_BATCH];
    struct mmsghdr headers[MAX_BATCH];
    memset(headers, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = buffers[i];
        vectors[i].iov_len = MAX_DATAGRAM;
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
        headers[i].msg_hdr.msg_name = &addresses[i];
        headers[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int received;
    do {
        /* these report an ICMP error about an earlier reply, and are then gone */
        Py_BEGIN_ALLOW_THREADS
        received = recvmmsg(fd, headers, (unsigned int)count, MSG_DONTWAIT, NULL);
        Py_END_ALLOW_THREADS
    } while (received < 0 && (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
                              errno == ENETUNREACH));
    if (received < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PyList_New(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *batch = PyList_New(received);
    if (batch == NULL)
        return NULL;
    for (int i = 0; i < received; i++) {
        struct msghdr *header = &headers[i].msg_hdr;
        Py_ssize_t size = headers[i].msg_len;
        if (header->msg_flags & MSG_TRUNC)
            size = MAX_DATAGRAM; /* too long for any tracker request: passed on, then refused */
        PyObject *item = Py_BuildValue(
            "(y#Ny#)", buffers[i], size,
            packed_ip(&addresses[i], header->msg_namelen),
            (const char *)&addresses[i], (Py_ssize_t)header->msg_namelen);
        if (item == NULL) {
            Py_DECREF(batch);
            return NULL;
        }
        PyList_SET_ITEM(batch, i, item);
    }
    return batch;
}

PyDoc_STRVAR(send_doc,
"send(fd, replies) -> int\n\n"
"Sends a list of (data, address) pairs, address as receive() gave it, in sendmmsg calls\n"
"of up to 64; returns how many were sent.  A full send queue drops the rest, as UDP may.");

static PyObject *
send_replies(PyObject *module, PyObject *args)
{
    int fd;
    PyObject *replies;
    if (!PyArg_ParseTuple(args, "iO!:send", &fd, &PyList_Type, &replies))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(replies), sent = 0;
    struct iovec vectors[MAX_BATCH];
    struct mmsghdr headers[MAX_BATCH];
    for (Py_ssize_t start = 0; start < total; start += MAX_BATCH) {
        int count = (int)(total - start < MAX_BATCH ? total - start : MAX_BATCH);
        memset(headers, 0, sizeof(struct mmsghdr) * (size_t)count);
        for (int i = 0; i < count; i++) {
            PyObject *pair = PyList_GET_ITEM(replies, start + i);
            PyObject *data, *address;
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
                !PyBytes_Check(data = PyTuple_GET_ITEM(pair, 0)) ||
                !PyBytes_Check(address = PyTuple_GET_ITEM(pair, 1)) ||
                PyBytes_GET_SIZE(address) > (Py_ssize_t)sizeof(struct sockaddr_storage)) {
                PyErr_SetString(PyExc_TypeError, "replies must be (bytes, address) pairs");
                return NULL;
            }
            vectors[i].iov_base = PyBytes_AS_STRING(data);
            vectors[i].iov_len = (size_t)PyBytes_GET_SIZE(data);
            headers[i].msg_hdr.msg_iov = &vectors[i];
            headers[i].msg_hdr.msg_iovlen = 1;
            headers[i].msg_hdr.msg_name = PyBytes_AS_STRING(address);
            headers[i].msg_hdr.msg_namelen = (socklen_t)PyBytes_GET_SIZE(address);
        }
        int done = 0;
        while (done < count) {
            int result;
            Py_BEGIN_ALLOW_THREADS
            result = sendmmsg(fd, headers + done, (unsigned int)(count - done), MSG_DONTWAIT);
            Py_END_ALLOW_THREADS
            if (result > 0) {
                done += result;
                continue;
            }
            if (result < 0 && errno == EINTR)
                continue;
            if (result < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                /* one bad destination (unreachable, refused): skip it, send the rest */
                done += 1;
                sent -= 1;
                continue;
            }
            return PyLong_FromSsize_t(sent + done);
        }
        sent += done;
    }
    return PyLong_FromSsize_t(sent);
}

static PyMethodDef methods[] = {
    {"receive", receive_datagrams, METH_VARARGS, receive_doc},
    {"send", send_replies, METH_VARARGS, send_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_datagrams",
    "Batched datagram I/O (recvmmsg, sendmmsg) for the UDP tracker.", -1, methods,
};

PyMODINIT_FUNC
PyInit__datagrams(void)
{
    return PyModule_Create(&module_def);
}

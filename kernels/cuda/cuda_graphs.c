/* CUDA backend: the CUDA-graph glue of the ops (dropping recorded graphs, the ops a segment may
 * not contain, per-step values) and the segments, recorded on their second run and replayed
 * after that. The bookkeeping and its rules are in graph_tape.h. */
#include "cuda/cuda_impl.h"

/* ---- CUDA graphs: glue (the rules are in graph_tape.h) ---- */
/* A graph holds device addresses: memory it may use is about to be freed or replaced, so every
 * recorded segment is dropped and captured again on its next run. */
void graphs_invalidate(cuda_impl *im) {
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++) {
        ib_tape_segment *s = &im->tape.seg[i];
        if (s->exec) IB_CU_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)s->exec));
        s->exec = NULL;
    }
}
/* Ops that hand back host data at once, allocate or free: not inside a segment (backend.h). */
void no_segment(cuda_impl *im, const char *op) {
    if (!im->tape.cur) return;
    fprintf(stderr, "initbench: cuda backend: %s called inside segment %d; segments may not contain it "
            "(kernels/backend.h)\n", op, im->tape.cur->id);
    exit(1);
}
/* Per-step values of an op (batch image numbers, dropout seed and stream, optimiser step
 * constants). Eagerly they travel as kernel arguments: NULL. In a capture or replay they are
 * written to the segment's pinned block at the op's offset, which a copy node of the graph
 * brings to the device when the graph runs: the device address. *skip: the segment is unusable,
 * the op must return. */
void *step_values(cuda_impl *im, const void *src, size_t bytes, int *skip) {
    size_t off = ib_tape_slot(&im->tape, bytes);
    *skip = 0;
    if (off == IB_TAPE_NO_SLOT) {
        *skip = im->tape.cur && im->tape.mode != IB_TAPE_EAGER; /* poisoned */
        return NULL;
    }
    ib_tape_segment *s = im->tape.cur;
    memcpy(s->host + off, src, bytes);
    if (im->tape.mode == IB_TAPE_CAPTURE)
        IB_CU_CHECK(cudaMemcpyAsync((char *)s->dev + off, s->host + off, bytes, cudaMemcpyHostToDevice, im->st));
    return (char *)s->dev + off;
}

/* ---- segments as CUDA graphs ---- */
static const char *segment_name(int id) {
    switch (id) {
    case IB_SEGMENT_FORWARD: return "forward";
    case IB_SEGMENT_BACKWARD: return "backward";
    case IB_SEGMENT_UPDATE: return "update";
    default: return "segment";
    }
}

void cu_segment_begin(ib_backend *be, int id) {
    cuda_impl *im = IMPL(be);
    char err[256];
    const ib_tape_mode mode = ib_tape_begin(&im->tape, id, err, sizeof err);
    if (mode == IB_TAPE_OFF) {
        fprintf(stderr, "initbench: cuda backend: %s\n", err);
        exit(1);
    }
    if (mode != IB_TAPE_CAPTURE) return;
    ib_tape_segment *s = im->tape.cur;
    if (s->block_cap < s->slot_bytes || !s->host) { /* the pinned block the first run measured */
        const size_t bytes = s->slot_bytes ? s->slot_bytes : IB_TAPE_ALIGN;
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        if (s->host) IB_CU_CHECK(cudaFreeHost(s->host));
        if (s->dev) IB_CU_CHECK(cudaFree(s->dev));
        s->host = NULL, s->dev = NULL, s->block_cap = 0;
        IB_CU_CHECK(cudaMallocHost((void **)&s->host, bytes));
        IB_CU_CHECK(cudaMalloc(&s->dev, bytes));
        s->block_cap = bytes;
    }
    /* ThreadLocal: a call in this thread that a graph cannot hold (a synchronisation, an
     * allocation) fails instead of being silently left out. */
    const cudaError_t e = cudaStreamBeginCapture(im->st, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) { /* run it eagerly this time and from now on */
        char why[200];
        snprintf(why, sizeof why, "cudaStreamBeginCapture: %s", cudaGetErrorName(e));
        ib_tape_disable(s, why);
        im->tape.mode = IB_TAPE_EAGER;
        fprintf(stderr, "initbench: cuda backend: warning: the %s segment runs without a CUDA graph: %s\n",
                segment_name(id), why);
        return;
    }
    g_capturing = &im->tape;
}

int cu_segment_end(ib_backend *be, int id) {
    cuda_impl *im = IMPL(be);
    ib_tape_segment *s = im->tape.cur;
    if (!s || s->id != id) {
        fprintf(stderr, "initbench: cuda backend: segment_end(%d) without its segment_begin\n", id);
        exit(1);
    }
    const ib_tape_mode mode = im->tape.mode;
    cudaGraph_t graph = NULL;
    if (mode == IB_TAPE_CAPTURE) {
        g_capturing = NULL;
        const cudaError_t e = cudaStreamEndCapture(im->st, &graph);
        if (e != cudaSuccess) {
            char why[200];
            snprintf(why, sizeof why, "cudaStreamEndCapture: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
            ib_tape_poison(&im->tape, why);
            (void)cudaGetLastError();
            graph = NULL;
        }
    }
    ib_tape_finish_action action = ib_tape_finish(&im->tape);
    if (action == IB_TAPE_LAUNCH && mode == IB_TAPE_CAPTURE) {
        cudaGraphExec_t exec = NULL;
        const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
        if (e != cudaSuccess) {
            char why[200];
            snprintf(why, sizeof why, "cudaGraphInstantiate: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
            ib_tape_disable(s, why);
            (void)cudaGetLastError();
            action = IB_TAPE_REDO;
        } else {
            s->exec = exec;
            im->graphs_captured++;
        }
    }
    if (graph) IB_CU_CHECK(cudaGraphDestroy(graph));
    if (action == IB_TAPE_REDO) {
        if (s->exec) IB_CU_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)s->exec)); /* never used again */
        s->exec = NULL;
        fprintf(stderr, "initbench: cuda backend: warning: the %s segment runs without a CUDA graph from now on: %s\n",
                segment_name(id), s->why);
        ib_tape_close(&im->tape);
        return 1;
    }
    if (action == IB_TAPE_LAUNCH) {
        IB_CU_CHECK(cudaGraphLaunch((cudaGraphExec_t)s->exec, im->st));
        /* wait: the host outputs are read now, and the next fill of the pinned block must not
         * overtake this launch's copies of it */
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        ib_tape_deliver(&im->tape, s->host);
    }
    ib_tape_close(&im->tape);
    return 0;
}

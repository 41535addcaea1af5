/* safetensors: round trip with metadata and odd shapes (0-d, 1 element, empty), rejection of
 * corrupt files with clear messages, random mutations without crashes, and a cross-check with
 * PyTorch (/usr/bin/python3) in both directions: a file written here loads into torch.nn.Linear,
 * and a file written by Python reads back here bit for bit. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw() for cleaning up the temporary directory */
#endif
#include "check.h"
#include "tmpdir.h"
#include "safetensors.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static char tmp_dir[256];

static void path_in_tmp(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp_dir, name);
}

/* A fixed set of tensors: a conv weight, biases, a 0-d scalar, a 1-element and an empty tensor,
 * and values that test exact bits (negative zero, subnormal, huge, NaN). */
enum { N_TENSORS = 6 };
static ib_st_tensor tensors[N_TENSORS];

static void make_tensors(void) {
    static const struct { const char *name; int ndim; int64_t shape[4]; } spec[N_TENSORS] = {
        {"conv1.weight", 4, {4, 1, 5, 5}}, {"fc.weight", 2, {3, 4}}, {"fc.bias", 1, {3}},
        {"scalar", 0, {0}},                {"one", 1, {1}},          {"empty", 2, {0, 3}},
    };
    for (int i = 0; i < N_TENSORS; i++) {
        ib_st_tensor *t = &tensors[i];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", spec[i].name);
        t->ndim = spec[i].ndim;
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = spec[i].shape[d];
            count *= (size_t)spec[i].shape[d];
        }
        t->data = ib_xmalloc(count * sizeof(float));
        for (size_t k = 0; k < count; k++) t->data[k] = (float)(0.01 * (double)(k + 1) * (i + 1)) - 0.3f;
    }
    float *w = tensors[0].data;
    w[0] = -0.0f;
    w[1] = 1e-42f; /* subnormal */
    w[2] = 3.0e38f;
    uint32_t nan_bits = 0x7fc01234u;
    memcpy(&w[3], &nan_bits, 4);
    tensors[3].data[0] = 0.01f;
    tensors[4].data[0] = -1.5f;
}

static void free_tensors(void) {
    for (int i = 0; i < N_TENSORS; i++) free(tensors[i].data);
}

static size_t element_count(const ib_st_tensor *t) {
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
    return count;
}

/* Same name, shape and bit-identical data. */
static int same_tensor(const ib_st_tensor *a, const ib_st_tensor *b) {
    if (strcmp(a->name, b->name) != 0 || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    size_t count = element_count(a);
    return count == 0 || memcmp(a->data, b->data, count * sizeof(float)) == 0;
}

static const char *const meta_keys[] = {"format", "initbench.w", "note"};
static const char *const meta_values[] = {"pt", "0.01", "quote \" and π"};

static void test_round_trip(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "round.safetensors");
    ib_err err = {0, ""};
    CHECK(ib_safetensors_write(path, tensors, N_TENSORS, meta_keys, meta_values, 3, &err) == 0, "write: %s",
          err.msg);
    ib_st_tensor *got = NULL;
    ib_st_meta *meta = NULL;
    int n = 0, n_meta = 0;
    CHECK(ib_safetensors_read_with_meta(path, &got, &n, &meta, &n_meta, &err) == 0, "read: %s", err.msg);
    CHECK(n == N_TENSORS, "read %d tensors", n);
    for (int i = 0; i < n && i < N_TENSORS; i++)
        CHECK(same_tensor(&got[i], &tensors[i]), "tensor %d (%s) differs after the round trip", i, got[i].name);
    CHECK(n_meta == 3, "read %d metadata entries", n_meta);
    for (int i = 0; i < n_meta && i < 3; i++)
        CHECK(strcmp(meta[i].key, meta_keys[i]) == 0 && strcmp(meta[i].value, meta_values[i]) == 0,
              "metadata %d: %s=%s", i, meta[i].key, meta[i].value);
    ib_safetensors_free(got, n);
    ib_safetensors_meta_free(meta, n_meta);

    /* Layout details other readers rely on: header padded to 8, data section 8-aligned. */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(ib_read_file(path, &buf, &len, &err) == 0, "read raw: %s", err.msg);
    if (buf) {
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; i--) header_len = header_len << 8 | buf[i];
        CHECK(header_len % 8 == 0 && buf[8] == '{', "header length %llu, first byte %c",
              (unsigned long long)header_len, buf[8]);
        size_t data_bytes = 0;
        for (int i = 0; i < N_TENSORS; i++) data_bytes += 4 * element_count(&tensors[i]);
        CHECK(len == 8 + header_len + data_bytes, "file size %zu", len);
        /* The plain parse API works too. */
        got = NULL;
        CHECK(ib_safetensors_parse(buf, len, "mem", &got, &n, &err) == 0 && n == N_TENSORS, "parse: %s",
              err.msg);
        ib_safetensors_free(got, n);
        free(buf);
    }

    /* No tensors at all is a valid file. */
    path_in_tmp(path, sizeof path, "none.safetensors");
    CHECK(ib_safetensors_write(path, NULL, 0, NULL, NULL, 0, &err) == 0, "write empty: %s", err.msg);
    got = NULL;
    CHECK(ib_safetensors_read(path, &got, &n, &err) == 0 && n == 0, "read empty: %s", err.msg);
    ib_safetensors_free(got, n);
}

static void test_write_errors(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "bad-write.safetensors");
    ib_err err;
    ib_st_tensor two[2] = {tensors[1], tensors[1]};
    CHECK(ib_safetensors_write(path, two, 2, NULL, NULL, 0, &err) == IB_EXIT_INTERNAL &&
              strstr(err.msg, "used twice"),
          "duplicate names: %s", err.msg);
    ib_st_tensor t = tensors[1];
    t.ndim = IB_ST_MAX_DIMS + 1;
    CHECK(ib_safetensors_write(path, &t, 1, NULL, NULL, 0, &err) == IB_EXIT_INTERNAL, "ndim 9");
    t = tensors[1];
    t.shape[0] = -3;
    CHECK(ib_safetensors_write(path, &t, 1, NULL, NULL, 0, &err) == IB_EXIT_INTERNAL, "negative dim");
    t = tensors[1];
    snprintf(t.name, sizeof t.name, "__metadata__");
    CHECK(ib_safetensors_write(path, &t, 1, NULL, NULL, 0, &err) == IB_EXIT_INTERNAL, "reserved name");
    t = tensors[1];
    t.name[0] = (char)0xff; /* not UTF-8 */
    CHECK(ib_safetensors_write(path, &t, 1, NULL, NULL, 0, &err) == IB_EXIT_INTERNAL, "non-UTF-8 name");
    CHECK(!ib_path_exists(path), "a failed write left %s behind", path);
}

/* A safetensors buffer from a header string and `data_len` bytes of data (value 0x3f). */
static uint8_t *make_file(const char *json, uint64_t claimed_len, size_t data_len, size_t *len) {
    size_t json_len = strlen(json);
    *len = 8 + json_len + data_len;
    uint8_t *buf = ib_xmalloc(*len);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(claimed_len >> (8 * i));
    memcpy(buf + 8, json, json_len);
    memset(buf + 8 + json_len, 0x3f, data_len);
    return buf;
}

static int parse_case(const char *what, const char *json, uint64_t claimed_len, size_t data_len,
                      ib_err *err) {
    size_t len;
    uint8_t *buf = make_file(json, claimed_len, data_len, &len);
    ib_st_tensor *t = (ib_st_tensor *)1;
    int n = -1;
    memset(err, 0, sizeof *err);
    int rc = ib_safetensors_parse(buf, len, what, &t, &n, err);
    if (rc) CHECK(t == NULL && n == 0, "%s: outputs not cleared on failure", what);
    else ib_safetensors_free(t, n);
    free(buf);
    return rc;
}

static void test_corrupt(void) {
    static const struct {
        const char *what, *json;
        int64_t claimed; /* header length to claim; -1: the true one */
        size_t data;
        const char *keyword;
    } cases[] = {
        {"bad-json", "{\"a\": {\"dtype\": \"F32\",", -1, 0, "invalid JSON"},
        {"not-object", "[1, 2, 3]", -1, 0, "not an object"},
        {"after-json", "{} x", -1, 0, "unexpected data"},
        {"header-past-end", "{}", 4096, 0, "bad header length 4096"},
        {"header-huge", "{}", 1ll << 40, 0, "bad header length"},
        {"f16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4, "dtype F16"},
        {"no-dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "dtype"},
        {"neg-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4, "shape entry 0"},
        {"frac-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", -1, 4, "shape entry 0"},
        {"str-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", -1, 4, "shape entry"},
        {"nine-dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", -1, 4,
         "9 dimensions"},
        {"no-shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4, "shape"},
        {"offsets-out", "{\"a\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", -1, 16, "out of range"},
        {"offsets-backwards", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", -1, 16, "out of range"},
        {"offsets-one", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", -1, 4, "data_offsets"},
        {"offsets-str", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", -1, 4, "data_offsets"},
        {"size-mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, "size mismatch"},
        {"overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}",
         -1, 0, "too large"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, "overlap"},
        {"empty-inside", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", -1, 8, "overlap"},
        {"gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", -1, 12, "gap of 4"},
        {"trailing-data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 8, "trailing bytes"},
        {"dup-name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, "appears twice"},
        {"meta-not-string", "{\"__metadata__\":{\"k\":1}}", -1, 0, "__metadata__"},
        {"meta-not-object", "{\"__metadata__\":[]}", -1, 0, "__metadata__"},
        {"entry-not-object", "{\"a\":[1]}", -1, 0, "not a JSON object"},
    };
    ib_err err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t claimed = cases[i].claimed < 0 ? strlen(cases[i].json) : (uint64_t)cases[i].claimed;
        int rc = parse_case(cases[i].what, cases[i].json, claimed, cases[i].data, &err);
        CHECK(rc == IB_EXIT_USAGE && err.code == IB_EXIT_USAGE, "%s: rc %d", cases[i].what, rc);
        CHECK(strstr(err.msg, cases[i].what) != NULL, "%s: message does not name the input: %s",
              cases[i].what, err.msg);
        CHECK(strstr(err.msg, cases[i].keyword) != NULL, "%s: message lacks '%s': %s", cases[i].what,
              cases[i].keyword, err.msg);
    }

    char long_name[300];
    memset(long_name, 'x', 200);
    snprintf(long_name + 200, sizeof long_name - 200, "%s", "");
    char json[600];
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", long_name);
    CHECK(parse_case("long-name", json, strlen(json), 4, &err) == IB_EXIT_USAGE && strstr(err.msg, "127"),
          "long name: %s", err.msg);

    size_t len;
    uint8_t *buf = make_file("", 0, 0, &len);
    ib_st_tensor *t;
    int n;
    CHECK(ib_safetensors_parse(buf, 5, "short", &t, &n, &err) == IB_EXIT_USAGE && strstr(err.msg, "truncated"),
          "5-byte file: %s", err.msg);
    CHECK(ib_safetensors_parse(buf, 8, "zero-header", &t, &n, &err) == IB_EXIT_USAGE &&
              strstr(err.msg, "invalid JSON"),
          "empty header: %s", err.msg);
    free(buf);

    /* Accepted edge cases: a zero dimension beside huge ones is an empty tensor; padding;
     * unknown keys in an entry are ignored, as the reference implementation does. */
    const char *ok_json = "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,9007199254740992],\"data_offsets\":[0,0]},"
                          "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"extra\":1}}    ";
    CHECK(parse_case("ok-edge", ok_json, strlen(ok_json), 4, &err) == 0, "edge cases: %s", err.msg);
}

/* Random byte flips and truncations of a valid file: no crash, only usage errors. */
static void test_mutations(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "mut.safetensors");
    ib_err err;
    CHECK(ib_safetensors_write(path, &tensors[1], 3, meta_keys, meta_values, 2, &err) == 0, "write: %s", err.msg);
    uint8_t *orig = NULL;
    size_t len = 0;
    CHECK(ib_read_file(path, &orig, &len, &err) == 0, "read: %s", err.msg);
    if (!orig) return;
    uint8_t *buf = ib_xmalloc(len);
    uint32_t state = 777;
    int bad_codes = 0, accepted = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(buf, orig, len);
        state = state * 1664525u + 1013904223u;
        int flips = 1 + (int)(state >> 28) % 3;
        for (int f = 0; f < flips; f++) {
            state = state * 1664525u + 1013904223u;
            /* Mostly hit the length and the JSON, where the parsing happens. */
            size_t span = (state >> 31) ? len : (len < 160 ? len : 160);
            buf[(state >> 4) % span] = (uint8_t)(state >> 12);
        }
        state = state * 1664525u + 1013904223u;
        size_t cut = (state >> 20) % 8 == 0 ? (state >> 8) % (len + 1) : len;
        ib_st_tensor *t = NULL;
        ib_st_meta *m = NULL;
        int n = 0, n_meta = 0;
        int rc = ib_safetensors_parse_with_meta(buf, cut, "mut", &t, &n, &m, &n_meta, &err);
        if (rc == 0) accepted++;
        else if (rc != IB_EXIT_USAGE) bad_codes++;
        ib_safetensors_free(t, n);
        ib_safetensors_meta_free(m, n_meta);
    }
    CHECK(bad_codes == 0, "%d mutated inputs gave a non-usage error", bad_codes);
    printf("safetensors mutations: 5000 tried, %d still valid (data-only changes), none crashed\n", accepted);
    free(buf);
    free(orig);
}

/* ---- the PyTorch cross-check ---- */

static const char *const python_script =
    "import json, struct, sys\n"
    "import numpy as np, torch\n"
    "src, dst = sys.argv[1], sys.argv[2]\n"
    "raw = open(src, 'rb').read()\n"
    "(n,) = struct.unpack('<Q', raw[:8])\n"
    "assert n % 8 == 0, 'header length %d not a multiple of 8' % n\n"
    "header = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "data = raw[8 + n:]\n"
    "meta = header.pop('__metadata__')\n"
    "assert meta == {'format': 'pt', 'initbench.w': '0.01', 'note': 'quote \" and \\u03c0'}, meta\n"
    "names = list(header)\n"
    "assert names == ['conv1.weight', 'fc.weight', 'fc.bias', 'scalar', 'one', 'empty'], names\n"
    "tensors = {}\n"
    "pos = 0\n"
    "for name in names:\n"
    "    info = header[name]\n"
    "    assert info['dtype'] == 'F32', info\n"
    "    b, e = info['data_offsets']\n"
    "    assert b == pos, (name, b, pos)\n"
    "    pos = e\n"
    "    arr = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])\n"
    "    tensors[name] = torch.from_numpy(arr.copy())\n"
    "assert pos == len(data)\n"
    "assert tensors['scalar'].dim() == 0 and tensors['scalar'].item() == np.float32(0.01)\n"
    "assert tensors['empty'].shape == (0, 3) and tensors['one'].tolist() == [-1.5]\n"
    "w = tensors['conv1.weight']\n"
    "assert w.dtype == torch.float32 and tuple(w.shape) == (4, 1, 5, 5)\n"
    "assert str(w[0, 0, 0, 0].item()) == '-0.0' and torch.isnan(w[0, 0, 0, 3])\n"
    "lin = torch.nn.Linear(4, 3)\n"
    "lin.load_state_dict({'weight': tensors['fc.weight'], 'bias': tensors['fc.bias']}, strict=True)\n"
    "with torch.no_grad():\n"
    "    y = lin(torch.ones(1, 4)).reshape(3)\n"
    "out = [('lin.out', y)] + [('echo.' + k, tensors[k]) for k in reversed(names)]\n"
    "hdr, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0\n"
    "for k, t in out:\n"
    "    b = t.contiguous().numpy().astype('<f4').tobytes()\n"
    "    hdr[k] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}\n"
    "    blobs.append(b)\n"
    "    off += len(b)\n"
    "h = json.dumps(hdr).encode('utf-8')\n"
    "h += b' ' * (-len(h) % 8)\n"
    "with open(dst, 'wb') as f:\n"
    "    f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))\n"
    "print('python: torch %s loaded %d tensors into nn.Linear and wrote %s' % (torch.__version__, len(names), dst))\n";

/* Runs /usr/bin/python3 with up to three arguments; returns its exit status (-1 if it did not run). */
static int run_python(const char *a1, const char *a2, const char *a3) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *argv[] = {PYTHON, (char *)a1, (char *)a2, (char *)a3, NULL};
        execv(PYTHON, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_pytorch(void) {
    if (access(PYTHON, X_OK) != 0 || run_python("-c", "import numpy, torch", NULL) != 0) {
        printf("SKIP PyTorch cross-check: %s cannot import numpy and torch (apt-get install python3-torch)\n",
               PYTHON);
        return;
    }
    char script[512], from_c[512], from_py[512];
    path_in_tmp(script, sizeof script, "check.py");
    path_in_tmp(from_c, sizeof from_c, "from_c.safetensors");
    path_in_tmp(from_py, sizeof from_py, "from_py.safetensors");
    ib_err err = {0, ""};
    CHECK(ib_write_file_atomic(script, python_script, strlen(python_script), &err) == 0, "script: %s", err.msg);
    CHECK(ib_safetensors_write(from_c, tensors, N_TENSORS, meta_keys, meta_values, 3, &err) == 0, "write: %s",
          err.msg);
    int status = run_python(script, from_c, from_py);
    CHECK(status == 0, "python check of the C-written file failed (exit %d)", status);
    if (status != 0) return;

    ib_st_tensor *got = NULL;
    ib_st_meta *meta = NULL;
    int n = 0, n_meta = 0;
    CHECK(ib_safetensors_read_with_meta(from_py, &got, &n, &meta, &n_meta, &err) == 0, "read python's file: %s",
          err.msg);
    CHECK(n == N_TENSORS + 1, "python's file has %d tensors", n);
    CHECK(n_meta == 1 && strcmp(meta[0].key, "format") == 0 && strcmp(meta[0].value, "pt") == 0,
          "python's metadata");
    int echoed = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(got[i].name, "echo.", 5) != 0) continue;
        for (int j = 0; j < N_TENSORS; j++) {
            if (strcmp(got[i].name + 5, tensors[j].name) != 0) continue;
            ib_st_tensor renamed = got[i];
            memmove(renamed.name, renamed.name + 5, strlen(renamed.name + 5) + 1);
            CHECK(same_tensor(&renamed, &tensors[j]), "%s differs after the trip through torch", got[i].name);
            echoed++;
        }
    }
    CHECK(echoed == N_TENSORS, "%d of %d tensors echoed", echoed, N_TENSORS);
    /* nn.Linear applied to ones: y = W 1 + b, here in double (torch sums in float). */
    CHECK(n > 0 && strcmp(got[0].name, "lin.out") == 0 && got[0].ndim == 1 && got[0].shape[0] == 3,
          "lin.out first with shape [3]");
    if (n > 0 && got[0].ndim == 1 && got[0].shape[0] == 3)
        for (int r = 0; r < 3; r++) {
            double y = tensors[2].data[r];
            for (int c = 0; c < 4; c++) y += tensors[1].data[r * 4 + c];
            CHECK_REL(got[0].data[r], y, 1e-6, 1e-6);
        }
    ib_safetensors_free(got, n);
    ib_safetensors_meta_free(meta, n_meta);
}

int main(void) {
    if (test_tmpdir_make(tmp_dir, sizeof tmp_dir, "test_safetensors")) return 1;
    make_tensors();
    test_round_trip();
    test_write_errors();
    test_corrupt();
    test_mutations();
    test_pytorch();
    free_tensors();
    test_tmpdir_remove(tmp_dir);
    return check_finish("test_safetensors");
}

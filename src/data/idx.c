/* The IDX file format (LeCun's MNIST container), plain or gzipped.
 *
 * Layout: a big-endian magic 00 00 TT RR (TT = element type, RR = rank), RR big-endian u32
 * dimensions, then the elements. We accept only unsigned bytes (TT = 0x08): images are rank 3
 * (n x rows x cols), labels rank 1. Input is untrusted (later fuzzed), so every field is checked
 * before it is used and sizes are computed in 64 bits from bounded factors. */
#include "data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_N 100000000u /* 10^8 items: far above any dataset we use, far below overflow */
#define IDX_MAX_SIDE 4096u

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the magic (type byte and rank) and that the header itself is present; on success
 * dims[0..rank) hold the dimensions. `kind` ("image" / "label") makes rank errors readable. */
static int idx_header(const uint8_t *buf, size_t len, const char *what, unsigned rank,
                      const char *kind, uint32_t *dims, ib_err *err) {
    const uint32_t want_magic = 0x0800u | rank;
    const size_t header_len = 4 + 4 * (size_t)rank;
    if (len < 4)
        return ib_fail(err, IB_EXIT_USAGE, "%s: truncated: %zu bytes, too short for an IDX %s file "
                       "(needs a %zu-byte header)", what, len, kind, header_len);
    uint32_t magic = read_be32(buf);
    if (buf[0] != 0 || buf[1] != 0)
        return ib_fail(err, IB_EXIT_USAGE, "%s: not an IDX file: magic is 0x%08x, expected 0x%08x",
                       what, magic, want_magic);
    if (buf[2] != IDX_TYPE_UBYTE)
        return ib_fail(err, IB_EXIT_USAGE, "%s: unsupported IDX element type 0x%02x (magic 0x%08x); "
                       "only 0x08 (unsigned byte) is supported", what, buf[2], magic);
    if (buf[3] != rank)
        return ib_fail(err, IB_EXIT_USAGE, "%s: wrong IDX rank %u (magic 0x%08x); an IDX %s file has "
                       "rank %u (magic 0x%08x)", what, buf[3], magic, kind, rank, want_magic);
    if (len < header_len)
        return ib_fail(err, IB_EXIT_USAGE, "%s: truncated: %zu bytes, shorter than the %zu-byte IDX "
                       "%s header", what, len, header_len, kind);
    for (unsigned i = 0; i < rank; i++) dims[i] = read_be32(buf + 4 + 4 * i);
    return 0;
}

/* Exact-size check shared by both parsers: `expected` is header plus payload. */
static int idx_check_size(size_t len, uint64_t expected, const char *what, const char *shape,
                          ib_err *err) {
    if ((uint64_t)len < expected)
        return ib_fail(err, IB_EXIT_USAGE, "%s: truncated: header says %s = %llu bytes, file has %zu",
                       what, shape, (unsigned long long)expected, len);
    if ((uint64_t)len > expected)
        return ib_fail(err, IB_EXIT_USAGE, "%s: trailing garbage: header says %s = %llu bytes, file "
                       "has %zu (%llu extra)", what, shape, (unsigned long long)expected, len,
                       (unsigned long long)((uint64_t)len - expected));
    return 0;
}

int ib_idx_parse_images(const uint8_t *buf, size_t len, const char *what,
                        int *n, int *rows, int *cols, uint8_t **pixels, ib_err *err) {
    *n = *rows = *cols = 0;
    *pixels = NULL;
    uint32_t d[3] = {0, 0, 0};
    if (idx_header(buf, len, what, 3, "image", d, err)) return err->code;
    if (d[0] == 0 || d[1] == 0 || d[2] == 0)
        return ib_fail(err, IB_EXIT_USAGE, "%s: zero dimension: header says %u x %u x %u",
                       what, d[0], d[1], d[2]);
    if (d[0] > IDX_MAX_N)
        return ib_fail(err, IB_EXIT_USAGE, "%s: too many images: header says %u, the limit is %u",
                       what, d[0], IDX_MAX_N);
    if (d[1] > IDX_MAX_SIDE || d[2] > IDX_MAX_SIDE)
        return ib_fail(err, IB_EXIT_USAGE, "%s: images too large: header says %u x %u, the limit is "
                       "%u x %u", what, d[1], d[2], IDX_MAX_SIDE, IDX_MAX_SIDE);
    /* Bounded factors: at most 1e8 * 4096 * 4096 < 2^61, so this cannot overflow. */
    uint64_t payload = (uint64_t)d[0] * d[1] * d[2];
    char shape[64];
    snprintf(shape, sizeof shape, "%u x %u x %u", d[0], d[1], d[2]);
    if (idx_check_size(len, 16 + payload, what, shape, err)) return err->code;
    /* len == 16 + payload, so the payload fits in memory already and in size_t. */
    uint8_t *px = ib_xmalloc((size_t)payload);
    memcpy(px, buf + 16, (size_t)payload);
    *n = (int)d[0];
    *rows = (int)d[1];
    *cols = (int)d[2];
    *pixels = px;
    return 0;
}

int ib_idx_parse_labels(const uint8_t *buf, size_t len, const char *what, int num_classes,
                        int *n, uint8_t **labels, ib_err *err) {
    *n = 0;
    *labels = NULL;
    if (num_classes < 1 || num_classes > 256)
        return ib_fail(err, IB_EXIT_INTERNAL, "%s: num_classes %d is not in 1..256", what, num_classes);
    uint32_t count = 0;
    if (idx_header(buf, len, what, 1, "label", &count, err)) return err->code;
    if (count == 0)
        return ib_fail(err, IB_EXIT_USAGE, "%s: zero dimension: header says 0 labels", what);
    if (count > IDX_MAX_N)
        return ib_fail(err, IB_EXIT_USAGE, "%s: too many labels: header says %u, the limit is %u",
                       what, count, IDX_MAX_N);
    char shape[32];
    snprintf(shape, sizeof shape, "%u labels", count);
    if (idx_check_size(len, 8 + (uint64_t)count, what, shape, err)) return err->code;
    const uint8_t *src = buf + 8;
    for (size_t i = 0; i < count; i++)
        if (src[i] >= num_classes)
            return ib_fail(err, IB_EXIT_USAGE, "%s: label %u at index %zu is out of range "
                           "(expected 0..%d)", what, src[i], i, num_classes - 1);
    uint8_t *out = ib_xmalloc(count);
    memcpy(out, src, count);
    *n = (int)count;
    *labels = out;
    return 0;
}

int ib_gunzip(const uint8_t *in, size_t in_len, size_t max_out, const char *what,
              uint8_t **out, size_t *out_len, ib_err *err) {
    *out = NULL;
    *out_len = 0;
    if (max_out == 0) return ib_fail(err, IB_EXIT_INTERNAL, "%s: gunzip called with max_out 0", what);

    /* First guess at the size: the trailer's ISIZE (size mod 2^32 of the last member), clamped
     * by deflate's best ratio (~1032:1) so a lying trailer cannot make us allocate a gigabyte
     * for a tiny input; the buffer doubles when the guess is short. */
    size_t cap = 1 << 16;
    if (in_len >= 18) {
        const uint8_t *t = in + in_len - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        size_t ratio_bound = in_len <= SIZE_MAX / 1100 ? in_len * 1100 : SIZE_MAX;
        if (isize > cap) cap = isize < ratio_bound ? isize : ratio_bound;
    }
    if (cap > max_out) cap = max_out;

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 16 + MAX_WBITS: expect a gzip wrapper (header, CRC-32 and length checked by zlib). */
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return ib_fail(err, IB_EXIT_INTERNAL, "%s: cannot initialise zlib", what);
    uint8_t *buf = ib_xmalloc(cap);
    size_t used = 0, pos = 0;
    int rc_code = 0;
    for (;;) {
        if (used == cap) {
            if (cap >= max_out) {
                rc_code = ib_fail(err, IB_EXIT_USAGE, "%s: gzip data decompresses to more than %zu "
                                  "bytes; refusing it (corrupt file or zip bomb?)", what, max_out);
                break;
            }
            size_t grown = cap <= max_out / 2 ? cap * 2 : max_out;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                rc_code = ib_fail(err, IB_EXIT_INTERNAL, "%s: out of memory gunzipping (%zu bytes)",
                                  what, grown);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        /* zlib counts in uInt; feed at most UINT_MAX at a time. */
        size_t in_chunk = in_len - pos < UINT_MAX ? in_len - pos : UINT_MAX;
        size_t out_chunk = cap - used < UINT_MAX ? cap - used : UINT_MAX;
        zs.next_in = (Bytef *)(uintptr_t)(in + pos); /* zlib's API is not const-correct */
        zs.avail_in = (uInt)in_chunk;
        zs.next_out = buf + used;
        zs.avail_out = (uInt)out_chunk;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        pos += in_chunk - zs.avail_in;
        used += out_chunk - zs.avail_out;
        if (zrc == Z_STREAM_END) {
            if (pos == in_len) break;
            /* gzip allows concatenated members (what `cat a.gz b.gz` makes). */
            if (in_len - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
                if (inflateReset(&zs) != Z_OK) {
                    rc_code = ib_fail(err, IB_EXIT_INTERNAL, "%s: zlib reset failed", what);
                    break;
                }
                continue;
            }
            rc_code = ib_fail(err, IB_EXIT_USAGE, "%s: corrupt gzip data: %zu trailing bytes after "
                              "the end of the compressed stream", what, in_len - pos);
            break;
        }
        if (zrc == Z_OK) continue;
        if (zrc == Z_BUF_ERROR) {
            if (used == cap) continue; /* output full: grow and go on */
            rc_code = ib_fail(err, IB_EXIT_USAGE, "%s: truncated gzip data: the compressed stream "
                              "ends early (%zu bytes read, %zu bytes decompressed)", what, in_len, used);
            break;
        }
        if (zrc == Z_MEM_ERROR) {
            rc_code = ib_fail(err, IB_EXIT_INTERNAL, "%s: zlib out of memory", what);
            break;
        }
        rc_code = ib_fail(err, IB_EXIT_USAGE, "%s: corrupt gzip data at compressed byte %zu: %s",
                          what, pos, zs.msg ? zs.msg : "inflate failed");
        break;
    }
    inflateEnd(&zs);
    if (rc_code) {
        free(buf);
        return rc_code;
    }
    /* Give back the unused tail of the guess; keep the old block if realloc declines. */
    uint8_t *fit = realloc(buf, used ? used : 1);
    *out = fit ? fit : buf;
    *out_len = used;
    return 0;
}

/* Like ib_read_file_maybe_gz, also telling whether the file was gzipped. */
static int read_maybe_gz(const char *path, uint8_t **data, size_t *len, int *was_gz, ib_err *err) {
    uint8_t *raw;
    size_t raw_len;
    *data = NULL;
    *len = 0;
    *was_gz = 0;
    if (ib_read_file(path, &raw, &raw_len, err)) return err->code;
    if (raw_len < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *data = raw;
        *len = raw_len;
        return 0;
    }
    *was_gz = 1;
    int rc = ib_gunzip(raw, raw_len, IB_GUNZIP_MAX_BYTES, path, data, len, err);
    free(raw);
    return rc;
}

int ib_read_file_maybe_gz(const char *path, uint8_t **data, size_t *len, ib_err *err) {
    int was_gz;
    return read_maybe_gz(path, data, len, &was_gz, err);
}

/* Errors about a gzipped file's contents say so, since the sizes they quote are after gunzip. */
static void describe_input(const char *path, int was_gz, char *what, size_t cap) {
    if (was_gz)
        snprintf(what, cap, "%s (after gunzip)", path);
    else
        snprintf(what, cap, "%s", path);
}

int ib_idx_read_images(const char *path, int *n, int *rows, int *cols, uint8_t **pixels, ib_err *err) {
    uint8_t *buf;
    size_t len;
    int was_gz;
    *n = *rows = *cols = 0;
    *pixels = NULL;
    if (read_maybe_gz(path, &buf, &len, &was_gz, err)) return err->code;
    char what[4200];
    describe_input(path, was_gz, what, sizeof what);
    int rc = ib_idx_parse_images(buf, len, what, n, rows, cols, pixels, err);
    free(buf);
    return rc;
}

int ib_idx_read_labels(const char *path, int num_classes, int *n, uint8_t **labels, ib_err *err) {
    uint8_t *buf;
    size_t len;
    int was_gz;
    *n = 0;
    *labels = NULL;
    if (read_maybe_gz(path, &buf, &len, &was_gz, err)) return err->code;
    char what[4200];
    describe_input(path, was_gz, what, sizeof what);
    int rc = ib_idx_parse_labels(buf, len, what, num_classes, n, labels, err);
    free(buf);
    return rc;
}

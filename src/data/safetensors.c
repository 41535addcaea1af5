/* safetensors, float32 only: an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
 * padded with spaces to a multiple of 8, then the tensor bytes (offsets relative to the end of
 * the header). The parser is as strict as the reference Rust implementation (offsets must tile
 * the data section exactly), since files are untrusted and will be fuzzed. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CAP ((int)sizeof(((ib_st_tensor *)0)->name)) /* 128: names up to 127 bytes */
#define JSON_EXACT_INT_MAX 9007199254740992.0           /* 2^53: larger JSON numbers lose digits */

/* ---- helpers ---- */

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* prod(shape) * 4 in bytes, or -1 on overflow. Any zero dimension makes it 0 whatever the rest. */
static int f32_bytes(const int64_t *shape, int ndim, uint64_t *bytes) {
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *bytes = 0;
            return 0;
        }
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (count > UINT64_MAX / d) return -1;
        count *= d;
    }
    if (count > UINT64_MAX / 4) return -1;
    *bytes = count * 4;
    return 0;
}

static void format_shape(const int64_t *shape, int ndim, char *out, size_t cap) {
    size_t used = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < cap) snprintf(out + used, cap - used, "]");
}

/* The reference implementation decodes the header as UTF-8; refuse to write what it rejects. */
static int valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        if (c < 0x80) continue;
        int extra; /* continuation bytes; `min` rejects overlong encodings */
        unsigned min;
        if ((c & 0xe0) == 0xc0) {
            extra = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (int i = 0; i < extra; i++) {
            if ((*p & 0xc0) != 0x80) return 0;
            c = c << 6 | (*p++ & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    }
    return 1;
}

/* ---- writing ---- */

static int write_f32_le(FILE *fp, const float *data, uint64_t count) {
    enum { CHUNK = 4096 };
    uint8_t bytes[4 * CHUNK];
    for (uint64_t done = 0; done < count;) {
        size_t m = count - done < CHUNK ? (size_t)(count - done) : CHUNK;
        for (size_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &data[done + i], 4);
            bytes[4 * i] = (uint8_t)u;
            bytes[4 * i + 1] = (uint8_t)(u >> 8);
            bytes[4 * i + 2] = (uint8_t)(u >> 16);
            bytes[4 * i + 3] = (uint8_t)(u >> 24);
        }
        if (fwrite(bytes, 4, m, fp) != m) return -1;
        done += m;
    }
    return 0;
}

/* Integers go in as raw JSON text: cJSON keeps numbers as doubles and would print large ones
 * in exponent form, which strict readers reject. */
static int add_raw_uint(cJSON *array, uint64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    cJSON *item = cJSON_CreateRaw(text);
    if (!item) return -1;
    if (!cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* Checks the tensors and builds the header JSON (unpadded); NULL on error. */
static char *build_header(const char *path, const ib_st_tensor *tensors, int n,
                          const char *const *meta_keys, const char *const *meta_values, int n_meta,
                          ib_err *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        ib_fail(err, IB_EXIT_INTERNAL, "%s: out of memory building the header", path);
        return NULL;
    }
    int rc = 0;
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < n_meta && !rc; i++) {
            if (!meta_keys[i] || !meta_values[i] || !valid_utf8(meta_keys[i]) || !valid_utf8(meta_values[i]))
                rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: metadata entry %d is NULL or not UTF-8", path, i);
            for (int j = 0; j < i && !rc; j++)
                if (strcmp(meta_keys[i], meta_keys[j]) == 0)
                    rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: metadata key '%s' given twice", path, meta_keys[i]);
            if (!rc && (!meta || !cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i])))
                rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: out of memory building the header", path);
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n && !rc; i++) {
        const ib_st_tensor *t = &tensors[i];
        uint64_t bytes = 0;
        if (!memchr(t->name, 0, sizeof t->name) || !t->name[0] || !valid_utf8(t->name) ||
            strcmp(t->name, "__metadata__") == 0) {
            rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor %d has an empty, unterminated, non-UTF-8 or "
                         "reserved name", path, i);
            break;
        }
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(t->name, tensors[j].name) == 0)
                rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor name '%s' used twice", path, t->name);
        if (rc) break;
        if (t->ndim < 0 || t->ndim > IB_ST_MAX_DIMS) {
            rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor '%s' has ndim %d (0..%d allowed)", path,
                         t->name, t->ndim, IB_ST_MAX_DIMS);
            break;
        }
        for (int d = 0; d < t->ndim && !rc; d++)
            if (t->shape[d] < 0)
                rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor '%s' has a negative dimension", path, t->name);
        if (rc) break;
        if (f32_bytes(t->shape, t->ndim, &bytes) || offset + bytes < offset) {
            rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor '%s' is too large", path, t->name);
            break;
        }
        if (bytes && !t->data) {
            rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: tensor '%s' has no data", path, t->name);
            break;
        }
        cJSON *entry = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = entry ? cJSON_AddArrayToObject(entry, "shape") : NULL;
        int ok = entry && shape && cJSON_AddStringToObject(entry, "dtype", "F32");
        for (int d = 0; d < t->ndim && ok; d++) ok = add_raw_uint(shape, (uint64_t)t->shape[d]) == 0;
        cJSON *offsets = ok ? cJSON_AddArrayToObject(entry, "data_offsets") : NULL;
        ok = ok && offsets && add_raw_uint(offsets, offset) == 0 && add_raw_uint(offsets, offset + bytes) == 0;
        if (!ok) rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: out of memory building the header", path);
        offset += bytes;
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(root);
    if (!rc && !text) ib_fail(err, IB_EXIT_INTERNAL, "%s: out of memory printing the header", path);
    cJSON_Delete(root);
    return text;
}

int ib_safetensors_write(const char *path, const ib_st_tensor *tensors, int n,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta,
                         ib_err *err) {
    if (n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && (!meta_keys || !meta_values)))
        return ib_fail(err, IB_EXIT_INTERNAL, "%s: bad arguments to ib_safetensors_write", path);
    char *header = build_header(path, tensors, n, meta_keys, meta_values, n_meta, err);
    if (!header) return err->code;
    size_t json_len = strlen(header);
    size_t padded = (json_len + 7) / 8 * 8; /* so the data section starts 8-byte aligned */
    uint8_t len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));

    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) {
        cJSON_free(header);
        return err->code;
    }
    int failed = fwrite(len_bytes, 1, 8, af.fp) != 8 || fwrite(header, 1, json_len, af.fp) != json_len;
    for (size_t i = json_len; i < padded && !failed; i++) failed = fputc(' ', af.fp) == EOF;
    cJSON_free(header);
    for (int i = 0; i < n && !failed; i++) {
        uint64_t bytes = 0;
        (void)f32_bytes(tensors[i].shape, tensors[i].ndim, &bytes); /* checked in build_header */
        failed = write_f32_le(af.fp, tensors[i].data, bytes / 4) != 0;
    }
    if (failed) {
        int e = errno ? errno : EIO;
        ib_atomic_abort(&af);
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot write %s: %s (previous contents kept)", path, strerror(e));
    }
    return ib_atomic_commit(&af, err);
}

/* ---- parsing ---- */

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *item, uint64_t *v) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= JSON_EXACT_INT_MAX)) return -1;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return -1;
    *v = u;
    return 0;
}

typedef struct span {
    uint64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int parse_metadata(const cJSON *obj, const char *what, ib_st_meta **meta, int *n_meta, ib_err *err) {
    if (!cJSON_IsObject(obj))
        return ib_fail(err, IB_EXIT_USAGE, "%s: __metadata__ is not a JSON object", what);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj) {
        if (!cJSON_IsString(kv))
            return ib_fail(err, IB_EXIT_USAGE, "%s: __metadata__ value of '%s' is not a string", what,
                           kv->string);
    }
    if (!meta) return 0;
    int count = cJSON_GetArraySize(obj);
    ib_st_meta *m = ib_xcalloc((size_t)count, sizeof *m);
    int i = 0;
    cJSON_ArrayForEach(kv, obj) {
        m[i].key = ib_xstrdup(kv->string);
        m[i].value = ib_xstrdup(kv->valuestring);
        i++;
    }
    *meta = m;
    *n_meta = count;
    return 0;
}

/* One tensor entry: dtype, shape and offsets checked against each other and the data size. */
static int parse_entry(const cJSON *entry, const char *what, uint64_t data_len, ib_st_tensor *t,
                       span *sp, ib_err *err) {
    const char *name = entry->string;
    size_t name_len = strlen(name);
    if (name_len >= (size_t)NAME_CAP)
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor name '%.40s...' is %zu bytes long; the limit is %d",
                       what, name, name_len, NAME_CAP - 1);
    memcpy(t->name, name, name_len + 1);
    if (!cJSON_IsObject(entry))
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': entry is not a JSON object", what, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype))
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': missing or non-string dtype", what, name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': dtype %.32s is not supported (only F32)",
                       what, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': missing or non-array shape", what, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > IB_ST_MAX_DIMS)
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': shape has %d dimensions; the limit is %d",
                       what, name, ndim, IB_ST_MAX_DIMS);
    t->ndim = ndim;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (json_uint(dim, &v))
            return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': shape entry %d is not a non-negative "
                           "integer", what, name, d);
        t->shape[d++] = (int64_t)v;
    }
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(cJSON_GetArrayItem(offsets, 0), &sp->begin) ||
        json_uint(cJSON_GetArrayItem(offsets, 1), &sp->end))
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': data_offsets must be [begin, end], two "
                       "non-negative integers", what, name);
    if (sp->begin > sp->end || sp->end > data_len)
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': data_offsets [%llu, %llu] out of range "
                       "(the data section has %llu bytes)", what, name, (unsigned long long)sp->begin,
                       (unsigned long long)sp->end, (unsigned long long)data_len);
    char shape_text[200];
    format_shape(t->shape, t->ndim, shape_text, sizeof shape_text);
    uint64_t bytes;
    if (f32_bytes(t->shape, t->ndim, &bytes))
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': shape %s is too large", what, name, shape_text);
    if (bytes != sp->end - sp->begin)
        return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s': size mismatch: shape %s needs %llu bytes of "
                       "F32, data_offsets [%llu, %llu] hold %llu", what, name, shape_text,
                       (unsigned long long)bytes, (unsigned long long)sp->begin,
                       (unsigned long long)sp->end, (unsigned long long)(sp->end - sp->begin));
    return 0;
}

/* Names must be unique, and the spans must tile [0, data_len) exactly (no overlap, no gap). */
static int check_layout(ib_st_tensor *t, span *spans, int n, const char *what, uint64_t data_len,
                        ib_err *err) {
    const char **names = ib_xmalloc((size_t)n * sizeof *names);
    for (int i = 0; i < n; i++) names[i] = t[i].name;
    qsort(names, (size_t)n, sizeof *names, str_ptr_cmp);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: tensor name '%s' appears twice", what, names[i]);
    free(names);
    if (rc) return rc;
    qsort(spans, (size_t)n, sizeof *spans, span_cmp);
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        const span *s = &spans[i];
        if (s->begin < pos)
            return ib_fail(err, IB_EXIT_USAGE, "%s: tensor '%s' data_offsets [%llu, %llu] overlap the "
                           "previous tensor's bytes (which end at %llu)", what, t[s->index].name,
                           (unsigned long long)s->begin, (unsigned long long)s->end, (unsigned long long)pos);
        if (s->begin > pos)
            return ib_fail(err, IB_EXIT_USAGE, "%s: gap of %llu unused bytes before tensor '%s' "
                           "(data_offsets must be contiguous)", what,
                           (unsigned long long)(s->begin - pos), t[s->index].name);
        pos = s->end;
    }
    if (pos != data_len)
        return ib_fail(err, IB_EXIT_USAGE, "%s: %llu trailing bytes after the last tensor's data", what,
                       (unsigned long long)(data_len - pos));
    return 0;
}

int ib_safetensors_parse_with_meta(const uint8_t *buf, size_t len, const char *what,
                                   ib_st_tensor **out, int *n, ib_st_meta **meta, int *n_meta,
                                   ib_err *err) {
    *out = NULL;
    *n = 0;
    if (meta) *meta = NULL;
    if (n_meta) *n_meta = 0;
    if (len < 8)
        return ib_fail(err, IB_EXIT_USAGE, "%s: truncated: %zu bytes, a safetensors file starts with an "
                       "8-byte header length", what, len);
    uint64_t header_len = read_le64(buf);
    if (header_len > IB_ST_MAX_HEADER_BYTES)
        return ib_fail(err, IB_EXIT_USAGE, "%s: bad header length %llu: more than the limit of %u bytes",
                       what, (unsigned long long)header_len, IB_ST_MAX_HEADER_BYTES);
    if (header_len > len - 8)
        return ib_fail(err, IB_EXIT_USAGE, "%s: bad header length %llu: the file has only %zu bytes after "
                       "the 8-byte length (truncated?)", what, (unsigned long long)header_len, len - 8);
    /* Parse a NUL-terminated copy: the header is followed by binary data in `buf`, and older
     * cJSON releases have been known to read a byte past the given length on bad input. */
    char *json = ib_xmalloc((size_t)header_len + 1);
    memcpy(json, buf + 8, (size_t)header_len);
    json[header_len] = 0;
    const char *json_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)header_len, &json_end, 0);
    int rc = 0;
    if (!root)
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: invalid JSON in the header near byte %lld of %llu", what,
                     json_end ? (long long)(json_end - json) : -1LL, (unsigned long long)header_len);
    for (const char *p = json_end; root && p < json + header_len && !rc; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: invalid JSON in the header: unexpected data after the "
                         "JSON object at byte %lld", what, (long long)(p - json));
    free(json);
    if (!rc && !cJSON_IsObject(root))
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: invalid header: the JSON is not an object", what);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }

    const uint8_t *data = buf + 8 + header_len;
    const uint64_t data_len = (uint64_t)(len - 8 - (size_t)header_len);
    int capacity = cJSON_GetArraySize(root);
    ib_st_tensor *tensors = ib_xcalloc((size_t)capacity, sizeof *tensors);
    span *spans = ib_xcalloc((size_t)capacity, sizeof *spans);
    ib_st_meta *m = NULL;
    int count = 0, n_m = 0, seen_meta = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (seen_meta++) {
                rc = ib_fail(err, IB_EXIT_USAGE, "%s: __metadata__ appears twice", what);
                break;
            }
            if ((rc = parse_metadata(entry, what, meta ? &m : NULL, &n_m, err))) break;
            continue;
        }
        spans[count].index = count;
        if ((rc = parse_entry(entry, what, data_len, &tensors[count], &spans[count], err))) break;
        count++;
    }
    if (!rc) rc = check_layout(tensors, spans, count, what, data_len, err);
    cJSON_Delete(root);
    if (!rc) {
        /* check_layout sorted the spans; each still names its tensor. */
        for (int i = 0; i < count; i++) {
            ib_st_tensor *t = &tensors[spans[i].index];
            uint64_t floats = (spans[i].end - spans[i].begin) / 4;
            t->data = ib_xmalloc((size_t)floats * sizeof(float));
            const uint8_t *src = data + spans[i].begin;
            for (uint64_t k = 0; k < floats; k++, src += 4) {
                uint32_t u = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                             (uint32_t)src[3] << 24;
                memcpy(&t->data[k], &u, 4);
            }
        }
    }
    free(spans);
    if (rc) {
        ib_safetensors_free(tensors, count);
        ib_safetensors_meta_free(m, n_m);
        return rc;
    }
    *out = tensors;
    *n = count;
    if (meta) {
        *meta = m;
        *n_meta = n_m;
    }
    return 0;
}

int ib_safetensors_parse(const uint8_t *buf, size_t len, const char *what,
                         ib_st_tensor **out, int *n, ib_err *err) {
    return ib_safetensors_parse_with_meta(buf, len, what, out, n, NULL, NULL, err);
}

int ib_safetensors_read_with_meta(const char *path, ib_st_tensor **out, int *n,
                                  ib_st_meta **meta, int *n_meta, ib_err *err) {
    uint8_t *buf;
    size_t len;
    *out = NULL;
    *n = 0;
    if (meta) *meta = NULL;
    if (n_meta) *n_meta = 0;
    if (ib_read_file(path, &buf, &len, err)) return err->code;
    int rc = ib_safetensors_parse_with_meta(buf, len, path, out, n, meta, n_meta, err);
    free(buf);
    return rc;
}

int ib_safetensors_read(const char *path, ib_st_tensor **out, int *n, ib_err *err) {
    return ib_safetensors_read_with_meta(path, out, n, NULL, NULL, err);
}

void ib_safetensors_free(ib_st_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].data);
    free(t);
}

void ib_safetensors_meta_free(ib_st_meta *meta, int n_meta) {
    if (!meta) return;
    for (int i = 0; i < n_meta; i++) {
        free(meta[i].key);
        free(meta[i].value);
    }
    free(meta);
}

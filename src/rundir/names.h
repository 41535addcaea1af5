/* The checks every reader of src/rundir applies to the strings and numbers it reads, in one place
 * (docs/ARCHITECTURE.md): a string from a run or sweep directory is data, so each field is held to
 * the shape its writer gives it (a name, a path inside the sweep, a layer spec, a time, a decimal
 * number) or, where it is free text (a reason), bounded and cleared of control characters. A
 * reader refuses a file whose field breaks its rule: IB_EXIT_USAGE, naming the file and the field,
 * never echoing the offending value (a file may be a link to someone's secret). */
#ifndef IB_RUNDIR_NAMES_H
#define IB_RUNDIR_NAMES_H

#include <stddef.h>

#define IB_NAME_MAX 31        /* bytes of a name (layer, optimizer, preset ...) */
#define IB_SPEC_TEXT_MAX 4096 /* bytes of a layer spec as text */
#define IB_TEXT_MAX 4096      /* bytes of free text (a reason) */
#define IB_PATH_TEXT_MAX 4095 /* bytes of a path */

/* s matches [A-Za-z0-9_.-]{1,31} and is neither "." nor "..". */
int ib_name_ok(const char *s);
/* The same for the len bytes at s (not NUL-terminated). */
int ib_name_ok_n(const char *s, size_t len);

/* A path relative to a sweep directory and inside it: 1 to max bytes, components of
 * [A-Za-z0-9_.+-] joined by single '/', none empty, "." or "..", none starting with '-', no ".."
 * anywhere. Run directories (runs/0003-w0.001-r2), logs, task lists. */
int ib_relpath_ok(const char *s, size_t max);

/* An absolute path without control characters, "." or ".." components or empty components
 * (what realpath gives), at most IB_PATH_TEXT_MAX bytes. */
int ib_abspath_ok(const char *s);

/* A layer spec as src/model/spec.c's ib_spec_format writes it (conv5x5:32,relu,maxpool2,
 * fc:1024,dropout:0.5,fc:10): 1 to IB_SPEC_TEXT_MAX bytes of [a-z0-9:,./+-]. With `spaces`, ' '
 * is allowed too (a spec as a user typed it). Never '@' (a file to read). */
int ib_spec_text_ok(const char *s, int spaces);

/* An ISO 8601 time as ib_iso_time writes it: 1 to 63 bytes of [0-9A-Za-z:.+-]. */
int ib_time_text_ok(const char *s);

/* A host name as gethostname gives it: 0 to 255 bytes of [A-Za-z0-9_.-] (empty: unknown). */
int ib_hostname_ok(const char *s);

/* A Slurm job as the task runner records it (JOB or JOB_TASK): 1 to 47 bytes of [A-Za-z0-9_.+-]. */
int ib_job_id_ok(const char *s);

/* A list of PAPI event names (--papi-events): 1 to 1024 bytes of [A-Za-z0-9_.,:=+-]. */
int ib_event_list_ok(const char *s);

/* Free text read from a file (a reason): at most IB_TEXT_MAX bytes. Returns 0 when longer, else
 * 1 after replacing every control character (bytes below 0x20 and 0x7f) of s in place by ' ', so
 * that no newline, escape sequence or NUL trick reaches whoever prints it. */
int ib_text_clean(char *s);

/* Decimal numbers as text, strictly: the whole of the len bytes at s, nothing else.
 * ib_parse_u64: 1 to 20 digits, within 64 bits. ib_parse_step: 1 to 15 digits (a step count,
 * < 10^15: exact in a double). ib_parse_real: [+-]digits[.digits][e[+-]digits] (or .digits),
 * finite. Each returns 1 with *v set, else 0. */
int ib_parse_u64(const char *s, size_t len, unsigned long long *v);
int ib_parse_step(const char *s, size_t len, long long *v);
int ib_parse_real(const char *s, size_t len, double *v);
/* The number of ib_parse_real's form (at most 64 bytes) that starts at s, ending before end: a
 * pointer past it with *v set, or NULL when none starts there. For parsers that read on. */
const char *ib_parse_real_prefix(const char *s, const char *end, double *v);

/* A CSV number field as printf writes one: empty, or nan / inf in any case and sign (NAN /
 * +-INFINITY), or ib_parse_real's form. Returns 1 with *v set, else 0. Fast: no strtod for the
 * %.9g / %f forms the writers use. */
int ib_parse_csv_number(const char *s, size_t len, double *v);

#endif

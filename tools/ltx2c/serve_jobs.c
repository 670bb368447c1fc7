/*
 * serve_jobs.c — the job side of `ltx2c serve` (serve.h): a POST body turned into the
 * subcommand's argv (JSON keys = the CLI's flags without dashes, model paths confined to
 * --models), validation by the subcommand itself (cli_job_hooks.validate_only), the bounded
 * queue, the single worker that runs jobs on the server's engine, progress/ETA/stage timings
 * from the engine's callbacks, and the job records (JSON, written atomically) in --jobs-dir.
 * No reference counterpart.
 */
#include "serve.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int (*cmd_fn)(int argc, char **argv);
static const struct {
    const char *name;
    cmd_fn fn;
} pipelines[] = {
    {"distilled", cmd_distilled},
    {"ti2vid_one_stage", cmd_ti2vid_one_stage},
    {"ti2vid_two_stages", cmd_ti2vid_two_stages},
    {"ti2vid_two_stages_hq", cmd_ti2vid_two_stages_hq},
    {"keyframe_interpolation", cmd_keyframe_interpolation},
    {"a2vid_two_stage", cmd_a2vid_two_stage},
    {"retake", cmd_retake},
    {"ic_lora", cmd_ic_lora},
};
#define N_PIPELINES (int)(sizeof pipelines / sizeof pipelines[0])

/* Flags naming model files/folders (relative to --models) and media inputs (relative to
 * --models, or "uploads/NAME" for files sent to POST /v1/uploads). */
static const char *const model_keys[] = {"distilled-checkpoint-path",
                                         "checkpoint-path",
                                         "spatial-upsampler-path",
                                         "gemma-root",
                                         "tokenizer",
                                         "lora",
                                         "distilled-lora"};
static const char *const media_keys[] = {"image", "audio-path", "video-path", "video-conditioning",
                                         "conditioning-attention-mask"};
/* Flags the server owns. */
static const char *const server_keys[] = {"output-path", "device", "threads", "help", "quiet"};

static int in_list(const char *k, const char *const *l, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(k, l[i])) return 1;
    return 0;
}
#define IN(k, l) in_list(k, l, (int)(sizeof l / sizeof l[0]))

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *serve_state_name(job_state st)
{
    static const char *names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[st];
}

static cmd_fn pipeline_fn(const char *name)
{
    for (int i = 0; i < N_PIPELINES; i++)
        if (!strcmp(name, pipelines[i].name)) return pipelines[i].fn;
    return NULL;
}

/* ---- argv building ---- */

typedef struct argv_buf {
    char **v;
    int n, cap;
} argv_buf;

static int push(argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int push(argv_buf *a, const char *fmt, ...)
{
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        char **nv = realloc(a->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&a->v[a->n], fmt, ap);
    va_end(ap);
    if (r < 0) return -1;
    a->v[++a->n] = NULL;
    return 0;
}

static void argv_free(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* rel confined to base (no absolute path, no "..", no symlink leaving base) -> out. */
static int confine(const char *key, const char *rel, const char *base, const char *what, char *out,
                   size_t cap, char *msg, size_t mcap)
{
    if (!*rel || rel[0] == '/') {
        snprintf(msg, mcap, "%s '%s': must be a path relative to %s", key, rel, what);
        return -1;
    }
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && !strncmp(p, "..", 2)) {
            snprintf(msg, mcap, "%s '%s': '..' is not allowed", key, rel);
            return -1;
        }
        p += n + (p[n] == '/');
    }
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s/%s", base, rel);
    if (!realpath(joined, out)) {
        snprintf(msg, mcap, "%s '%s': no such file under %s", key, rel, what);
        return -1;
    }
    size_t bl = strlen(base);
    if (strncmp(out, base, bl) || out[bl] != '/') {
        snprintf(msg, mcap, "%s '%s': resolves outside %s (symlink)", key, rel, what);
        return -1;
    }
    (void)cap;
    return 0;
}

/* A path value of `key` resolved for the argv. */
static int path_arg(const server *s, const char *key, const char *rel, char *out, char *msg,
                    size_t mcap)
{
    if (IN(key, media_keys) && !strncmp(rel, "uploads/", 8))
        return confine(key, rel + 8, s->uploads, "the uploads", out, PATH_MAX, msg, mcap);
    return confine(key, rel, s->models, "--models", out, PATH_MAX, msg, mcap);
}

/* One scalar array element or value as text (strings, numbers). */
static int scalar_text(const cJSON *v, char *buf, size_t cap)
{
    if (cJSON_IsString(v)) {
        snprintf(buf, cap, "%s", v->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d && d > -1e15 && d < 1e15)
            snprintf(buf, cap, "%lld", (long long)d);
        else
            snprintf(buf, cap, "%.17g", d);
        return 0;
    }
    return -1;
}

static const char *type_name(const cJSON *v)
{
    return cJSON_IsObject(v)   ? "object"
           : cJSON_IsArray(v)  ? "array"
           : cJSON_IsNull(v)   ? "null"
           : cJSON_IsBool(v)   ? "boolean"
           : cJSON_IsString(v) ? "string"
                               : "number";
}

/* One group of values after "--key": the elements of arr (scalars), the first one a path for
 * path keys. */
static int push_group(const server *s, argv_buf *a, const char *key, const cJSON *arr, int is_path,
                      char *msg, size_t mcap)
{
    if (push(a, "--%s", key)) return -1;
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char t[8192], p[PATH_MAX];
        if (scalar_text(e, t, sizeof t)) {
            snprintf(msg, mcap,
                     "field '%s': wrong type (%s inside the array; expected strings "
                     "and numbers)",
                     key, type_name(e));
            return 1;
        }
        if (!strncmp(t, "--", 2)) {
            snprintf(msg, mcap, "field '%s': value '%s' may not start with --", key, t);
            return 1;
        }
        if (is_path && i == 0) {
            if (path_arg(s, key, t, p, msg, mcap)) return 1;
            if (push(a, "%s", p)) return -1;
        } else if (push(a, "%s", t)) {
            return -1;
        }
    }
    return 0;
}

/* One JSON field -> argv words. 0 ok, 1 bad request (msg), -1 OOM. */
static int field_args(const server *s, argv_buf *a, const cJSON *it, char *msg, size_t mcap)
{
    const char *k = it->string;
    if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(k) || k[0] == '-') {
        snprintf(msg, mcap,
                 "field '%s': unknown (fields are the CLI's flags without the leading "
                 "dashes, e.g. \"num-frames\")",
                 k);
        return 1;
    }
    if (IN(k, server_keys)) {
        snprintf(msg, mcap, "field '%s': set by the server, not by a job", k);
        return 1;
    }
    int is_path = IN(k, model_keys) || IN(k, media_keys);
    if (cJSON_IsBool(it)) return cJSON_IsTrue(it) ? (push(a, "--%s", k) ? -1 : 0) : 0;
    if (cJSON_IsArray(it)) {
        int nested = it->child && cJSON_IsArray(it->child);
        if (!nested) return push_group(s, a, k, it, is_path, msg, mcap);
        for (const cJSON *g = it->child; g; g = g->next) {
            if (!cJSON_IsArray(g)) {
                snprintf(msg, mcap, "field '%s': wrong type (mixed arrays and %s)", k,
                         type_name(g));
                return 1;
            }
            int r = push_group(s, a, k, g, is_path, msg, mcap);
            if (r) return r;
        }
        return 0;
    }
    char t[16384], p[PATH_MAX];
    if (scalar_text(it, t, sizeof t)) {
        snprintf(msg, mcap, "field '%s': wrong type (%s)", k, type_name(it));
        return 1;
    }
    if (is_path) {
        if (path_arg(s, k, t, p, msg, mcap)) return 1;
        return push(a, "--%s=%s", k, p) ? -1 : 0;
    }
    return push(a, "--%s=%s", k, t) ? -1 : 0;
}

/* Body -> argv (argv[0] = pipeline) + output path. 0 ok, 1 bad request (msg), -1 OOM. */
static int build_argv(const server *s, const char *body, size_t len, const char *out_path,
                      argv_buf *a, char *pipeline, size_t pcap, char *msg, size_t mcap)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(msg, mcap, "malformed JSON near byte %ld",
                 cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - body) : 0L);
        return 1;
    }
    int r = 0;
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "pipeline");
    if (!cJSON_IsObject(root)) {
        snprintf(msg, mcap, "the body must be a JSON object, not %s", type_name(root));
        r = 1;
    } else if (!cJSON_IsString(pl)) {
        snprintf(msg, mcap, "field 'pipeline': %s",
                 pl ? "wrong type (expected a string)" : "required");
        r = 1;
    } else if (!pipeline_fn(pl->valuestring)) {
        snprintf(msg, mcap,
                 "field 'pipeline' '%.64s': unknown (distilled, ti2vid_one_stage, "
                 "ti2vid_two_stages, ti2vid_two_stages_hq, keyframe_interpolation, "
                 "a2vid_two_stage, retake, ic_lora)",
                 pl->valuestring);
        r = 1;
    } else {
        snprintf(pipeline, pcap, "%s", pl->valuestring);
        r = push(a, "%s", pipeline) ? -1 : 0;
        for (const cJSON *it = root->child; it && !r; it = it->next)
            if (strcmp(it->string, "pipeline")) r = field_args(s, a, it, msg, mcap);
        if (!r) r = push(a, "--output-path=%s", out_path) ? -1 : 0;
    }
    cJSON_Delete(root);
    return r;
}

/* Removes "<models>/" and "<uploads>/" from a CLI message so paths read as the client sent
 * them. */
static void strip_prefix(char *m, const char *dir)
{
    char pre[PATH_MAX + 1];
    snprintf(pre, sizeof pre, "%s/", dir);
    size_t n = strlen(pre);
    for (char *p; (p = strstr(m, pre));)
        memmove(p, p + n, strlen(p + n) + 1);
}

/* The subcommand's parser and the library's checks on argv, nothing loaded. */
static int validate(server *s, argv_buf *a, char *msg, size_t mcap)
{
    char err[4096] = "";
    cli_job_hooks h = {.validate_only = 1, .engine = s->checker, .err = err, .err_cap = sizeof err};
    pthread_mutex_lock(&s->check_mu);
    cli_set_job_hooks(&h);
    int rc = pipeline_fn(a->v[0])(a->n, a->v);
    cli_set_job_hooks(NULL);
    pthread_mutex_unlock(&s->check_mu);
    if (rc == 0) return 0;
    strip_prefix(err, s->models);
    strip_prefix(err, s->uploads);
    snprintf(msg, mcap, "%s", err[0] ? err : "invalid job");
    return 1;
}

static void random_id(char *id, size_t cap)
{
    unsigned char b[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
        uint64_t x = (uint64_t)(serve_now() * 1e6) ^ (uint64_t)getpid();
        memcpy(b, &x, sizeof b);
    }
    if (fd >= 0) close(fd);
    snprintf(id, cap, "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
             b[7]);
}

void serve_result_path(const server *s, const job *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.mp4", s->jobs_dir, j->id);
}

int serve_queued_count(const server *s)
{
    int n = 0;
    for (int i = 0; i < s->n_jobs; i++)
        n += s->jobs[i]->state == JOB_QUEUED;
    return n;
}

static int add_job(server *s, job *j)
{
    if (s->n_jobs == s->cap_jobs) {
        int cap = s->cap_jobs ? 2 * s->cap_jobs : 64;
        job **nj = realloc(s->jobs, (size_t)cap * sizeof *nj);
        if (!nj) return -1;
        s->jobs = nj;
        s->cap_jobs = cap;
    }
    s->jobs[s->n_jobs++] = j;
    return 0;
}

static void job_free(job *j)
{
    if (!j) return;
    argv_free(j->argv, j->argc);
    free(j->request);
    free(j);
}

/* A job from a body: argv built and validated. 0, 1 (msg) or -1. */
static int make_job(server *s, const char *body, size_t len, const char *id, job **out, char *msg,
                    size_t mcap)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->request = strndup(body, len))) {
        free(j);
        return -1;
    }
    snprintf(j->id, sizeof j->id, "%s", id);
    char out_path[PATH_MAX + 32];
    serve_result_path(s, j, out_path, sizeof out_path);
    argv_buf a = {0};
    int r = build_argv(s, body, len, out_path, &a, j->pipeline, sizeof j->pipeline, msg, mcap);
    if (!r) r = validate(s, &a, msg, mcap);
    if (r) {
        argv_free(a.v, a.n);
        job_free(j);
        return r;
    }
    j->argv = a.v;
    j->argc = a.n;
    *out = j;
    return 0;
}

int serve_submit(server *s, const char *body, size_t len, job **out, char *msg, size_t cap)
{
    char id[24];
    random_id(id, sizeof id);
    job *j = NULL;
    int r = make_job(s, body, len, id, &j, msg, cap);
    if (r) return r > 0 ? 400 : 500;
    pthread_mutex_lock(&s->mu);
    int queued = serve_queued_count(s);
    if (queued >= s->queue_max || add_job(s, j)) {
        pthread_mutex_unlock(&s->mu);
        snprintf(msg, cap, "queue full (%d jobs waiting; --queue %d)", queued, s->queue_max);
        job_free(j);
        return 429;
    }
    j->state = JOB_QUEUED;
    j->created = serve_now();
    j->version = 1;
    serve_job_save(s, j);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    *out = j;
    return 202;
}

job *serve_find(server *s, const char *id)
{
    for (int i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jobs[i]->id, id)) return s->jobs[i];
    return NULL;
}

/* ---- records ---- */

cJSON *serve_job_json(const server *s, const job *j, int full)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "pipeline", j->pipeline);
    cJSON_AddStringToObject(o, "state", serve_state_name(j->state));
    cJSON_AddStringToObject(o, "stage", j->stage);
    cJSON_AddNumberToObject(o, "step", j->step);
    cJSON_AddNumberToObject(o, "total", j->total);
    cJSON_AddNumberToObject(o, "eta_s", j->eta_s);
    cJSON_AddNumberToObject(o, "seq", j->version);
    if (j->error[0]) cJSON_AddStringToObject(o, "error", j->error);
    cJSON_AddNumberToObject(o, "created", j->created);
    if (j->started) cJSON_AddNumberToObject(o, "started", j->started);
    if (j->finished) cJSON_AddNumberToObject(o, "finished", j->finished);
    cJSON *t = cJSON_AddObjectToObject(o, "timings");
    for (int i = 0; i < j->n_times; i++)
        cJSON_AddNumberToObject(t, j->times[i].name, j->times[i].seconds);
    if (j->started) { /* models taken from the engine's cache / loaded during the job */
        cJSON *c = cJSON_AddObjectToObject(o, "model_cache");
        cJSON_AddNumberToObject(c, "hits", j->cache_hits);
        cJSON_AddNumberToObject(c, "misses", j->cache_misses);
    }
    if (j->state == JOB_DONE) {
        char url[96];
        snprintf(url, sizeof url, "/v1/jobs/%s/result", j->id);
        cJSON_AddStringToObject(o, "result", url);
    }
    if (full && j->request) {
        cJSON *req = cJSON_Parse(j->request);
        if (req) cJSON_AddItemToObject(o, "request", req);
    }
    (void)s;
    return o;
}

void serve_job_save(const server *s, const job *j)
{
    cJSON *o = serve_job_json(s, j, 1);
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return;
    char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
    snprintf(path, sizeof path, "%s/%s.json", s->jobs_dir, j->id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(text, f) >= 0;
    if (f) ok = (fflush(f) == 0) & (fsync(fileno(f)) == 0) & (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) fprintf(stderr, "ltx2c serve: cannot write %s: %s\n", path, strerror(errno));
    free(text);
}

void serve_job_delete(server *s, job *j)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.json", s->jobs_dir, j->id);
    remove(path);
    serve_result_path(s, j, path, sizeof path);
    remove(path);
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i] == j) s->jobs[i] = s->jobs[--s->n_jobs];
    job_free(j);
}

static void set_time(job *j, const char *name, double seconds)
{
    for (int i = 0; i < j->n_times; i++)
        if (!strcmp(j->times[i].name, name)) {
            j->times[i].seconds = seconds;
            return;
        }
    if (j->n_times == JOB_MAX_TIMES) return;
    snprintf(j->times[j->n_times].name, sizeof j->times[0].name, "%s", name);
    j->times[j->n_times++].seconds = seconds;
}

/* One record back into the store (restart). */
static void restore_one(server *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    const cJSON *id = cJSON_GetObjectItem(o, "id"), *st = cJSON_GetObjectItem(o, "state");
    if (!cJSON_IsString(id) || !cJSON_IsString(st) || serve_find(s, id->valuestring)) {
        cJSON_Delete(o);
        return;
    }
    const cJSON *req = cJSON_GetObjectItem(o, "request");
    char *body = req ? cJSON_PrintUnformatted(req) : NULL;
    char msg[4096] = "";
    job *j = NULL;
    int r = body ? make_job(s, body, strlen(body), id->valuestring, &j, msg, sizeof msg) : 1;
    if (r) { /* not runnable any more (e.g. a model was removed): keep the record as failed */
        j = calloc(1, sizeof *j);
        if (!j) goto out;
        snprintf(j->id, sizeof j->id, "%s", id->valuestring);
        j->request = body ? strdup(body) : NULL;
        const cJSON *pl = cJSON_GetObjectItem(o, "pipeline");
        snprintf(j->pipeline, sizeof j->pipeline, "%s", cJSON_IsString(pl) ? pl->valuestring : "");
    }
    j->created = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "created"));
    double v = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "started"));
    j->started = v == v ? v : 0;
    v = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "finished"));
    j->finished = v == v ? v : 0;
    const cJSON *t = cJSON_GetObjectItem(o, "timings");
    for (const cJSON *e = t ? t->child : NULL; e; e = e->next)
        set_time(j, e->string, e->valuedouble);
    const cJSON *mc = cJSON_GetObjectItem(o, "model_cache");
    const cJSON *mh = cJSON_GetObjectItem(mc, "hits"), *mm = cJSON_GetObjectItem(mc, "misses");
    j->cache_hits = cJSON_IsNumber(mh) ? mh->valueint : 0;
    j->cache_misses = cJSON_IsNumber(mm) ? mm->valueint : 0;
    const cJSON *err = cJSON_GetObjectItem(o, "error");
    if (cJSON_IsString(err)) snprintf(j->error, sizeof j->error, "%s", err->valuestring);
    const char *sn = st->valuestring;
    char res[PATH_MAX + 32];
    serve_result_path(s, j, res, sizeof res);
    if (!strcmp(sn, "done") && access(res, R_OK) == 0) {
        j->state = JOB_DONE;
    } else if (!strcmp(sn, "cancelled")) {
        j->state = JOB_CANCELLED;
    } else if (!strcmp(sn, "queued") && !r) {
        j->state = JOB_QUEUED;
    } else {
        j->state = JOB_FAILED;
        if (!strcmp(sn, "running") || !strcmp(sn, "queued"))
            snprintf(j->error, sizeof j->error, "interrupted%s%s", r ? ": " : "", r ? msg : "");
        else if (!strcmp(sn, "done"))
            snprintf(j->error, sizeof j->error, "result file missing after restart");
        if (!j->finished) j->finished = serve_now();
    }
    j->version = 1;
    if (add_job(s, j))
        job_free(j);
    else
        serve_job_save(s, j);
out:
    free(body);
    cJSON_Delete(o);
}

void serve_jobs_restore(server *s)
{
    DIR *d = opendir(s->jobs_dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (n > 5 && !strcmp(de->d_name + n - 5, ".json")) {
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", s->jobs_dir, de->d_name);
            restore_one(s, p);
        } else if (n > 4 && strstr(de->d_name, ".tmp")) { /* partial writes of a crash */
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", s->jobs_dir, de->d_name);
            remove(p);
        }
    }
    closedir(d);
    int n = 0;
    for (int i = 0; i < s->n_jobs; i++)
        n += s->jobs[i]->state == JOB_FAILED && !strncmp(s->jobs[i]->error, "interrupted", 11);
    if (s->n_jobs)
        fprintf(stderr, "ltx2c serve: restored %d job records (%d interrupted)\n", s->n_jobs, n);
}

/* ---- worker ---- */

int serve_on_progress(void *user, const char *stage, int step, int total, double elapsed)
{
    server *s = user;
    pthread_mutex_lock(&s->mu);
    job *j = s->current;
    int cancel = 1;
    if (j) {
        double now = serve_now();
        if (strcmp(j->stage, stage)) { /* a new stage: setup = start -> first stage */
            if (!j->n_times || !strcmp(j->times[j->n_times - 1].name, "prompt_encoding"))
                set_time(j, "setup", now - elapsed - j->started);
            snprintf(j->stage, sizeof j->stage, "%s", stage);
        }
        j->step = step;
        j->total = total;
        j->eta_s = step > 0 ? elapsed / step * (total - step) : 0;
        set_time(j, stage, elapsed);
        j->version++;
        if (step == total || step == 1) serve_job_save(s, j);
        cancel = j->cancel || s->stop;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return cancel;
}

void serve_on_log(void *user, ltx_log_level level, const char *line)
{
    server *s = user;
    double sec;
    pthread_mutex_lock(&s->mu);
    job *j = s->current;
    char name[32];
    if (j && sscanf(line, "prompt encoding: %lf s", &sec) == 1) set_time(j, "prompt_encoding", sec);
    /* the per-stage summary ("  video_decode   0.24 s") */
    else if (j && !strncmp(line, "  ", 2) && sscanf(line, " %31s %lf s", name, &sec) == 2 &&
             !strstr(line, "step"))
        set_time(j, name, sec);
    fprintf(stderr, "[%s] %s%s\n", j ? j->id : "serve", level >= LTX_LOG_WARN ? "warning: " : "",
            line);
    pthread_mutex_unlock(&s->mu);
}

static job *next_queued(server *s)
{
    job *best = NULL;
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i]->state == JOB_QUEUED && (!best || s->jobs[i]->created < best->created))
            best = s->jobs[i];
    return best;
}

/* Runs j on the server's engine (s->mu not held). */
static void run_job(server *s, job *j)
{
    char err[4096] = "";
    cli_job_hooks h = {.engine = s->engine, .err = err, .err_cap = sizeof err};
    int hits0 = 0, misses0 = 0, hits1 = 0, misses1 = 0;
    ltx_engine_cache_stats(s->engine, NULL, NULL, &hits0, &misses0);
    cli_set_job_hooks(&h);
    int rc = pipeline_fn(j->pipeline)(j->argc, j->argv);
    cli_set_job_hooks(NULL);
    ltx_engine_cache_stats(s->engine, NULL, NULL, &hits1, &misses1);
    strip_prefix(err, s->models);
    pthread_mutex_lock(&s->mu);
    j->cache_hits = hits1 - hits0;
    j->cache_misses = misses1 - misses0;
    j->finished = serve_now();
    set_time(j, "total", j->finished - j->started);
    char res[PATH_MAX + 32];
    serve_result_path(s, j, res, sizeof res);
    if (rc == 0 && access(res, R_OK) == 0) {
        j->state = JOB_DONE;
    } else if (j->cancel) {
        j->state = JOB_CANCELLED;
    } else {
        j->state = JOB_FAILED;
        snprintf(j->error, sizeof j->error, "%s",
                 s->stop  ? "interrupted (server stopped)"
                 : err[0] ? err
                          : "failed");
    }
    j->eta_s = 0;
    j->version++;
    s->current = NULL;
    serve_job_save(s, j);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void *serve_worker(void *arg)
{
    server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        job *j = next_queued(s);
        if (!j) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        j->state = JOB_RUNNING;
        j->started = serve_now();
        snprintf(j->stage, sizeof j->stage, "loading");
        j->version++;
        s->current = j;
        serve_job_save(s, j);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        run_job(s, j);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

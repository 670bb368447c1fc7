/*
 * cmd_serve.c — `ltx2c serve`: HTTP/1.1 job server on GNU libmicrohttpd (one thread per
 * connection; one worker runs one job at a time on a long-lived engine). Endpoints:
 *   POST   /v1/jobs               {"pipeline": ..., <CLI flags without dashes>} -> 202 {"id"}
 *   GET    /v1/jobs               every job (summary)
 *   GET    /v1/jobs/{id}          state, stage, step/total, ETA, error, per-stage timings
 *   GET    /v1/jobs/{id}/events   Server-Sent Events with the same JSON, in order, until the end
 *   GET    /v1/jobs/{id}/result   the mp4 (Range: bytes=...)
 *   DELETE /v1/jobs/{id}          cancel (queued or running), or delete a finished job + files
 *   POST   /v1/uploads?name=F     raw body stored in jobs-dir/uploads -> {"path": "uploads/..."}
 *   GET    /v1/models             model files and folders under --models, each with the
 *                                  summary of `ltx2c inspect --json` (paths relative)
 *   GET    /healthz               no auth
 *   GET    /, /app.js, /style.css the web page (web/; public, holds no data)
 * With --token every /v1 endpoint needs "Authorization: Bearer TOKEN" (or ?access_token=TOKEN,
 * for EventSource and <video>, which cannot send headers), else 401.
 * No reference counterpart.
 */
#include "cli_args.h"
#include "serve.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LTX2C_WEB_DIR
#define LTX2C_WEB_DIR "web"
#endif

typedef struct req {
    char *body;
    size_t len, cap;
    int too_big;
} req;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *o)
{
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_text(c, status, "application/json", t ? t : strdup("{}"));
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return send_json(c, status, o);
}

/* Constant-time comparison of the presented token. */
static int token_ok(const server *s, struct MHD_Connection *c)
{
    if (!s->token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
    const char *given = h && !strncmp(h, "Bearer ", 7) ? h + 7 : q;
    if (!given) return 0;
    size_t n = strlen(s->token), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

/* ---- static files ---- */

static enum MHD_Result send_static(server *s, struct MHD_Connection *c, const char *url)
{
    static const struct {
        const char *url, *file, *type;
    } files[] = {{"/", "index.html", "text/html; charset=utf-8"},
                 {"/index.html", "index.html", "text/html; charset=utf-8"},
                 {"/app.js", "app.js", "text/javascript; charset=utf-8"},
                 {"/style.css", "style.css", "text/css; charset=utf-8"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(url, files[i].url)) continue;
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s", s->web_dir, files[i].file);
        int fd = open(p, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0) close(fd);
            return send_error(c, 404, "web page files not found (--web-dir)");
        }
        struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
        MHD_add_response_header(r, "Content-Type", files[i].type);
        enum MHD_Result ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    return send_error(c, 404, "not found");
}

/* ---- /v1/jobs/{id}/result with Range ---- */

static enum MHD_Result send_result(server *s, struct MHD_Connection *c, job *j)
{
    char p[PATH_MAX + 32];
    serve_result_path(s, j, p, sizeof p);
    int done = j->state == JOB_DONE;
    pthread_mutex_unlock(&s->mu);
    if (!done) return send_error(c, 409, "no result: the job is not done");
    int fd = open(p, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return send_error(c, 404, "result file missing");
    }
    uint64_t size = (uint64_t)st.st_size, a = 0, b = size ? size - 1 : 0;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    unsigned status = 200;
    if (range) {
        unsigned long long x = 0, y = 0;
        int ok = 0;
        /* one range: "bytes=A-B", "bytes=A-" or the suffix "bytes=-N" (%llu would take a sign) */
        const char *v = !strncmp(range, "bytes=", 6) && !strchr(range, ',') ? range + 6 : "x";
        if (v[0] == '-') {
            if (sscanf(v + 1, "%llu", &y) == 1 && y > 0 && v[1] != '-')
                ok = 1, a = y >= size ? 0 : size - y, b = size - 1;
        } else if (v[0] >= '0' && v[0] <= '9') {
            int k = sscanf(v, "%llu-%llu", &x, &y);
            const char *dash = strchr(v, '-');
            if (k == 2 && dash[1] != '-')
                ok = x <= y, a = x, b = y < size ? y : size - 1;
            else if (k == 1 && dash && !dash[1])
                ok = 1, a = x, b = size - 1;
        }
        if (!ok || a >= size) {
            close(fd);
            struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
            MHD_add_response_header(r, "Content-Range", cr);
            enum MHD_Result res = MHD_queue_response(c, 416, r);
            MHD_destroy_response(r);
            return res;
        }
        status = 206;
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(b - a + 1, fd, a);
    MHD_add_response_header(r, "Content-Type", "video/mp4");
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (status == 206) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a,
                 (unsigned long long)b, (unsigned long long)size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- SSE ---- */

typedef struct sse {
    server *s;
    char id[24];
    unsigned sent; /* last version sent */
    int ended;
} sse;

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *e = cls;
    server *s = e->s;
    if (e->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    pthread_mutex_lock(&s->mu);
    job *j = serve_find(s, e->id);
    if (j && j->version == e->sent && (j->state == JOB_QUEUED || j->state == JOB_RUNNING) &&
        !s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        j = serve_find(s, e->id);
    }
    ssize_t n;
    if (!j) {
        n = snprintf(buf, max, "event: end\ndata: {\"state\":\"deleted\"}\n\n");
        e->ended = 1;
    } else if (j->version == e->sent) {
        n = snprintf(buf, max, ": keepalive\n\n");
    } else {
        cJSON *o = serve_job_json(s, j, 0);
        char *t = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        int fin = j->state != JOB_QUEUED && j->state != JOB_RUNNING;
        n = snprintf(buf, max, "id: %u\nevent: %s\ndata: %s\n\n", j->version,
                     fin ? "end" : "progress", t ? t : "{}");
        free(t);
        e->sent = j->version;
        e->ended = fin;
    }
    pthread_mutex_unlock(&s->mu);
    return n < 0 || (size_t)n >= max ? 0 : n;
}

static enum MHD_Result send_events(server *s, struct MHD_Connection *c, job *j)
{
    sse *e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return send_error(c, 500, "out of memory");
    }
    e->s = s;
    snprintf(e->id, sizeof e->id, "%s", j->id);
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, e, free);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- /v1/models ---- */

/* s with the --models root prefix (and its '/') removed, or s when it is not under root. */
static const char *under_root(const char *s, const char *root)
{
    size_t n = strlen(root);
    return !strncmp(s, root, n) && s[n] == '/' ? s + n + 1 : s;
}

/* m["inspect"] = `ltx2c inspect --json`'s summary of full (no tensor list), its path and
 * shards relative to root, so that the answer does not reveal the server's folders; when the
 * header cannot be read, m["inspect_error"] = the message instead. */
static void add_inspect(cJSON *m, const char *root, const char *full)
{
    ltx_model_info *info = NULL;
    if (ltx_model_info_open(full, &info) != LTX_OK) {
        cJSON_AddStringToObject(m, "inspect_error", ltx_last_error_global());
        return;
    }
    cJSON *o = cli_inspect_json(info, false);
    ltx_model_info_free(info);
    if (!o) return;
    cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
    if (cJSON_IsString(p))
        cJSON_ReplaceItemInObjectCaseSensitive(
            o, "path", cJSON_CreateString(under_root(p->valuestring, root)));
    cJSON *shards = cJSON_GetObjectItemCaseSensitive(o, "shards");
    for (int i = 0; i < cJSON_GetArraySize(shards); i++) {
        cJSON *sh = cJSON_GetArrayItem(shards, i); /* the new string is a copy made first */
        if (cJSON_IsString(sh))
            cJSON_ReplaceItemInArray(shards, i,
                                     cJSON_CreateString(under_root(sh->valuestring, root)));
    }
    cJSON_AddItemToObject(m, "inspect", o);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static void list_models(cJSON *arr, const char *root, const char *rel, int depth)
{
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char r2[PATH_MAX], full[PATH_MAX * 3];
        snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r2);
        struct stat st;
        if (lstat(full, &st) != 0 || S_ISLNK(st.st_mode)) continue;
        if (S_ISDIR(st.st_mode)) {
            char cfg[PATH_MAX * 3 + 16];
            snprintf(cfg, sizeof cfg, "%s/config.json", full);
            if (access(cfg, R_OK) == 0) {
                cJSON *m = cJSON_CreateObject();
                cJSON_AddStringToObject(m, "path", r2);
                cJSON_AddStringToObject(m, "kind", "folder (text encoder: --gemma-root)");
                add_inspect(m, root, full);
                cJSON_AddItemToArray(arr, m);
            }
            if (depth < 3) list_models(arr, root, r2, depth + 1);
            continue;
        }
        const char *nm = de->d_name;
        if (!S_ISREG(st.st_mode) || (!has_suffix(nm, ".safetensors") && !has_suffix(nm, ".gguf")))
            continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "path", r2);
        cJSON_AddNumberToObject(m, "bytes", (double)st.st_size);
        cJSON_AddStringToObject(m, "kind",
                                strstr(nm, "upscaler") || strstr(nm, "upsampler")
                                    ? "spatial upsampler"
                                : strstr(nm, "lora")  ? "lora"
                                : strstr(nm, "model") ? "weights"
                                                      : "checkpoint");
        add_inspect(m, root, full);
        cJSON_AddItemToArray(arr, m);
    }
    closedir(d);
}

/* ---- routing ---- */

static enum MHD_Result jobs_post(server *s, struct MHD_Connection *c, req *r)
{
    char msg[4096];
    job *j = NULL;
    int status = serve_submit(s, r->body ? r->body : "", r->len, &j, msg, sizeof msg);
    if (status != 202) return send_error(c, (unsigned)status, msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id); /* the id is copied before any delete can race */
    cJSON_AddStringToObject(o, "state", "queued");
    return send_json(c, 202, o);
}

static enum MHD_Result upload_post(server *s, struct MHD_Connection *c, req *r)
{
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    char clean[128] = "";
    size_t k = 0;
    for (const char *p = name ? name : "file"; *p && k + 1 < sizeof clean; p++)
        clean[k++] =
            (char)(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_",
                          *p) &&
                           *p
                       ? *p
                       : '_');
    clean[k] = 0;
    if (clean[0] == '.') clean[0] = '_';
    char rel[256], path[PATH_MAX + 300], tmp[PATH_MAX + 320];
    snprintf(rel, sizeof rel, "%lld-%s", (long long)(serve_now() * 1000), clean);
    snprintf(path, sizeof path, "%s/%s", s->uploads, rel);
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(r->body ? r->body : "", 1, r->len, f) == r->len;
    if (f) ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return send_error(c, 500, "cannot store the upload");
    }
    cJSON *o = cJSON_CreateObject();
    char out[300];
    snprintf(out, sizeof out, "uploads/%s", rel);
    cJSON_AddStringToObject(o, "path", out);
    return send_json(c, 201, o);
}

static enum MHD_Result job_delete(server *s, struct MHD_Connection *c, job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    unsigned status = 200;
    if (j->state == JOB_QUEUED) {
        j->state = JOB_CANCELLED;
        j->finished = serve_now();
        j->version++;
        serve_job_save(s, j);
        cJSON_AddStringToObject(o, "state", "cancelled");
    } else if (j->state == JOB_RUNNING) {
        j->cancel = 1;
        j->version++;
        cJSON_AddStringToObject(o, "state", "cancelling");
        status = 202;
    } else {
        serve_job_delete(s, j);
        cJSON_AddBoolToObject(o, "deleted", 1);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return send_json(c, status, o);
}

static enum MHD_Result route_job(server *s, struct MHD_Connection *c, const char *method,
                                 const char *rest)
{
    char id[24] = "";
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof id) return send_error(c, 404, "no such job");
    memcpy(id, rest, n);
    const char *sub = rest + n;
    pthread_mutex_lock(&s->mu);
    job *j = serve_find(s, id);
    if (!j) {
        pthread_mutex_unlock(&s->mu);
        return send_error(c, 404, "no such job");
    }
    int get = !strcmp(method, "GET");
    if (!*sub && get) {
        cJSON *o = serve_job_json(s, j, 1);
        pthread_mutex_unlock(&s->mu);
        return send_json(c, 200, o);
    }
    if (!*sub && !strcmp(method, "DELETE")) return job_delete(s, c, j);
    if (!strcmp(sub, "/events") && get) return send_events(s, c, j);
    if (!strcmp(sub, "/result") && get) return send_result(s, c, j);
    pthread_mutex_unlock(&s->mu);
    return send_error(c, 405, "method not allowed");
}

static enum MHD_Result route(server *s, struct MHD_Connection *c, const char *url,
                             const char *method, req *r)
{
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/healthz")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return send_json(c, 200, o);
    }
    if (strncmp(url, "/v1/", 4))
        return get ? send_static(s, c, url) : send_error(c, 405, "method not allowed");
    if (!token_ok(s, c)) return send_error(c, 401, "missing or wrong bearer token");
    if (r->too_big) return send_error(c, 413, "request body too large");
    if (!strcmp(url, "/v1/jobs") && post) return jobs_post(s, c, r);
    if (!strcmp(url, "/v1/uploads") && post) return upload_post(s, c, r);
    if (!strcmp(url, "/v1/jobs") && get) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "jobs");
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->n_jobs; i++)
            cJSON_AddItemToArray(arr, serve_job_json(s, s->jobs[i], 0));
        cJSON_AddNumberToObject(o, "queued", serve_queued_count(s));
        cJSON_AddNumberToObject(o, "queue_max", s->queue_max);
        pthread_mutex_unlock(&s->mu);
        return send_json(c, 200, o);
    }
    if (!strcmp(url, "/v1/models") && get) {
        cJSON *o = cJSON_CreateObject();
        list_models(cJSON_AddArrayToObject(o, "models"), s->models, "", 0);
        return send_json(c, 200, o);
    }
    if (!strncmp(url, "/v1/jobs/", 9)) return route_job(s, c, method, url + 9);
    return send_error(c, 404, "not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)version;
    server *s = cls;
    req *r = *con_cls;
    if (!r) {
        *con_cls = calloc(1, sizeof(req));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t limit = !strcmp(url, "/v1/uploads") ? 64u << 20 : s->max_body;
        if (!r->too_big && r->len + *size <= limit) {
            if (r->len + *size + 1 > r->cap) {
                size_t cap = (r->len + *size + 1) * 2;
                char *nb = realloc(r->body, cap);
                if (!nb) return MHD_NO;
                r->body = nb;
                r->cap = cap;
            }
            memcpy(r->body + r->len, data, *size);
            r->len += *size;
            r->body[r->len] = 0;
        } else {
            r->too_big = 1;
        }
        *size = 0;
        return MHD_YES;
    }
    return route(s, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    req *r = *con_cls;
    if (r) free(r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- startup ---- */

typedef struct serve_opts {
    const char *models, *host, *token, *jobs_dir, *device, *web_dir;
    int port, queue, threads, cache_mb, max_body_kb;
} serve_opts;

static int setup_dirs(server *s, const serve_opts *o)
{
    if (!realpath(o->models, s->models)) {
        cli_error("serve", "--models %s: no such folder", o->models);
        return -1;
    }
    mkdir(o->jobs_dir, 0755);
    if (!realpath(o->jobs_dir, s->jobs_dir)) {
        cli_error("serve", "--jobs-dir %s: cannot create it", o->jobs_dir);
        return -1;
    }
    snprintf(s->uploads, sizeof s->uploads, "%.*s/uploads", PATH_MAX - 16, s->jobs_dir);
    mkdir(s->uploads, 0755);
    snprintf(s->web_dir, sizeof s->web_dir, "%s", o->web_dir);
    return 0;
}

static int open_engines(server *s, const serve_opts *o)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = o->device;
    ep.n_threads = o->threads;
    ep.log = serve_on_log;
    ep.log_user = s;
    ep.progress = serve_on_progress;
    ep.progress_user = s;
    ep.cache_bytes = (size_t)o->cache_mb << 20;
    if (ltx_engine_open(&ep, &s->engine) != LTX_OK) {
        cli_error("serve", "cannot open device '%s': %s", o->device, ltx_last_error_global());
        return -1;
    }
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.n_threads = 1;
    ep.log = NULL;
    if (ltx_engine_open(&ep, &s->checker) != LTX_OK) {
        cli_error("serve", "cannot open the validation engine: %s", ltx_last_error_global());
        return -1;
    }
    return 0;
}

static struct MHD_Daemon *start_http(server *s, const serve_opts *o)
{
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &a4.sin_addr) != 1) {
        cli_error("serve", "--host %s: expected an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)",
                  o->host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &a4,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 256u,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (!d) cli_error("serve", "cannot listen on %s:%d", o->host, o->port);
    return d;
}

static int serve_main(const serve_opts *o)
{
    static server s; /* one per process: the signal wait below owns it */
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_mutex_init(&s.check_mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.token = o->token && *o->token ? o->token : NULL;
    s.queue_max = o->queue;
    s.max_body = (size_t)o->max_body_kb << 10;
    if (setup_dirs(&s, o) || open_engines(&s, o)) return CLI_EXIT_FAIL;
    serve_jobs_restore(&s);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread below inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    pthread_create(&s.worker, NULL, serve_worker, &s);
    struct MHD_Daemon *d = start_http(&s, o);
    int rc = CLI_EXIT_FAIL;
    if (d) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (strcmp(o->host, "127.0.0.1") && !s.token)
            fprintf(stderr,
                    "ltx2c serve: warning: listening on %s without --token: anyone who "
                    "can reach this address can run jobs\n",
                    o->host);
        printf("ltx2c serve: listening on http://%s:%u (models %s, jobs %s)\n", o->host,
               info ? info->port : (unsigned)o->port, s.models, s.jobs_dir);
        fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "ltx2c serve: signal %d, stopping\n", sig);
        rc = CLI_EXIT_OK;
    }
    pthread_mutex_lock(&s.mu);
    s.stop = 1;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    if (d) MHD_stop_daemon(d);
    pthread_join(s.worker, NULL);
    ltx_engine_close(s.engine);
    ltx_engine_close(s.checker);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o = {.host = "127.0.0.1",
                    .port = 8080,
                    .queue = 16,
                    .jobs_dir = "ltx2c-jobs",
                    .device = "auto",
                    .web_dir = LTX2C_WEB_DIR,
                    .cache_mb = 16384,
                    .max_body_kb = 256};
    cli_opt t[] = {
        {"--models", CLI_STR, &o.models, "DIR", "folder every model path of a job is relative to",
         1},
        {"--host", CLI_STR, &o.host, "ADDR", "IPv4 address to bind (default 127.0.0.1)", 0},
        {"--port", CLI_INT, &o.port, "N", "TCP port (default 8080; 0 = any free port)", 0},
        {"--token", CLI_STR, &o.token, "SECRET", "require Authorization: Bearer SECRET on /v1", 0},
        {"--queue", CLI_INT, &o.queue, "N", "jobs waiting at most; more get 429 (default 16)", 0},
        {"--jobs-dir", CLI_STR, &o.jobs_dir, "DIR", "job records and results (default ltx2c-jobs)",
         0},
        {"--device", CLI_STR, &o.device, "D", "auto|cpu|cpu-restricted|cuda[:N] (default auto)", 0},
        {"--threads", CLI_INT, &o.threads, "N", "worker threads of the engine", 0},
        {"--cache-mb", CLI_INT, &o.cache_mb, "MB", "resident model budget (default 16384; 0 = off)",
         0},
        {"--max-body-kb", CLI_INT, &o.max_body_kb, "KB", "POST /v1/jobs body limit (default 256)",
         0},
        {"--web-dir", CLI_STR, &o.web_dir, "DIR", "the web page's files (default: the repo's web/)",
         0},
    };
    int n = (int)(sizeof t / sizeof t[0]);
    int r = cli_parse("serve", t, n, argc, argv);
    if (r < 0) {
        printf("usage: ltx2c serve --models DIR [options]\n\nHTTP job server: POST /v1/jobs, "
               "GET /v1/jobs[/{id}[/events|/result]], DELETE /v1/jobs/{id}, GET /v1/models, "
               "GET /healthz, and a web page at /. See README.md.\n\noptions:\n");
        cli_print_opts(stdout, t, n);
        return CLI_EXIT_OK;
    }
    if (r) return r;
    if (o.port < 0 || o.port > 65535) {
        cli_error("serve", "--port %d: must be in 0..65535", o.port);
        return CLI_EXIT_USAGE;
    }
    if (o.queue < 1 || o.cache_mb < 0 || o.max_body_kb < 1) {
        cli_error("serve", "--queue, --max-body-kb must be >= 1 and --cache-mb >= 0");
        return CLI_EXIT_USAGE;
    }
    return serve_main(&o);
}

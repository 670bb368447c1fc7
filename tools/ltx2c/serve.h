/*
 * serve.h — `ltx2c serve`: the job store, queue, worker and job records shared by the HTTP
 * front end (cmd_serve.c) and the job side (serve_jobs.c). Jobs are generation subcommands run
 * in-process on one long-lived engine (its model cache keeps the models resident between
 * jobs); requests are turned into the subcommand's own argv and validated by the subcommand's
 * own parser + the library's checks (cli_job_hooks, validate_only) before they are queued.
 * No reference counterpart (the reference has no server).
 */
#ifndef LTX2C_SERVE_H
#define LTX2C_SERVE_H

#include "cli.h"

#include <limits.h>
#include <pthread.h>

typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state;

#define JOB_MAX_TIMES 16

typedef struct job_time {
    char name[32];
    double seconds;
} job_time;

typedef struct job {
    char id[24];
    char pipeline[40];
    job_state state;
    char *request; /* the POST body (JSON text), kept to requeue after a restart */
    char **argv;   /* the subcommand's argv (argv[0] = pipeline) */
    int argc;
    char stage[32];
    int step, total;
    double eta_s;
    char error[2048];
    double created, started, finished; /* unix seconds; 0 = not yet */
    double t_stage_start;              /* wall time the current stage began */
    job_time times[JOB_MAX_TIMES];     /* setup, prompt_encoding, each progress stage, total */
    int n_times;
    int cancel;                   /* cancellation requested */
    unsigned version;             /* bumped on every change (SSE event id) */
    int cache_hits, cache_misses; /* model cache lookups of this job (0 until it ran) */
} job;

typedef struct server {
    char models[PATH_MAX];   /* realpath of --models */
    char jobs_dir[PATH_MAX]; /* realpath of --jobs-dir */
    char uploads[PATH_MAX];  /* jobs_dir/uploads */
    char web_dir[PATH_MAX];
    const char *token; /* NULL = no auth */
    int queue_max;
    size_t max_body;
    pthread_mutex_t mu; /* guards everything below and every job */
    pthread_cond_t cv;  /* broadcast on any job change */
    job **jobs;
    int n_jobs, cap_jobs;
    job *current;
    int stop;
    ltx_engine *engine;  /* runs the jobs (model cache on) */
    ltx_engine *checker; /* validates requests (cpu, 1 thread, quiet) */
    pthread_mutex_t check_mu;
    pthread_t worker;
} server;

/* Seconds since the epoch (wall clock). */
double serve_now(void);

/* Loads the records in s->jobs_dir: running jobs become failed ("interrupted"), queued ones
 * are queued again, finished ones are kept. Called before the worker starts. */
void serve_jobs_restore(server *s);

/* Turns a POST /v1/jobs body into a queued job. Returns the HTTP status: 202 (*out = the new
 * job, owned by s), 400 (bad JSON, type, field, path or a validation error of the pipeline),
 * 429 (queue full); msg gets the error text. Takes s->mu itself. */
int serve_submit(server *s, const char *body, size_t len, job **out, char *msg, size_t cap);

/* The worker thread: runs queued jobs one at a time until s->stop. */
void *serve_worker(void *arg);

/* Engine callbacks (user = server). */
int serve_on_progress(void *user, const char *stage, int step, int total, double elapsed);
void serve_on_log(void *user, ltx_log_level level, const char *line);

/* With s->mu held: the job or NULL; the job's JSON (cJSON *, full = with request and argv);
 * writes the job's record atomically; removes a finished job (record + result). */
job *serve_find(server *s, const char *id);
struct cJSON *serve_job_json(const server *s, const job *j, int full);
void serve_job_save(const server *s, const job *j);
void serve_job_delete(server *s, job *j);
/* jobs_dir/<id>.mp4 */
void serve_result_path(const server *s, const job *j, char *buf, size_t cap);
const char *serve_state_name(job_state st);
int serve_queued_count(const server *s);

#endif

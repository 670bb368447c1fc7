/*
 * cmd_pipelines.c — the eight generation subcommands, by reference name. Until a pipeline is
 * built, its subcommand explains itself under --help and otherwise exits non-zero with
 * "not built yet" — it never fakes output.
 */
#include "cli.h"

#include <string.h>

typedef struct pipeline_stub {
    const char *name;
    const char *what;
    const char *ckpt_flag;
} pipeline_stub;

static int not_built(const pipeline_stub *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: ltx2c %s %s PATH --gemma-root DIR --prompt TEXT --output-path OUT.mp4 "
                   "[options]\n\n%s\n\n"
                   "status: not built yet — this subcommand exits non-zero until its pipeline "
                   "lands.\n",
                   p->name, p->ckpt_flag, p->what);
            return CLI_EXIT_OK;
        }
    }
    cli_error(p->name, "not built yet: the %s pipeline is not implemented in this build", p->name);
    return CLI_EXIT_FAIL;
}

#define STUB(fn, what, flag)                                                                    \
    int cmd_##fn(int argc, char **argv)                                                         \
    {                                                                                           \
        static const pipeline_stub p = {#fn, what, flag};                                       \
        return not_built(&p, argc, argv);                                                       \
    }

STUB(ti2vid_two_stages, "Text/image-to-video in two stages: half resolution, x2 latent upsampling, "
     "distilled-LoRA refinement.", "--checkpoint-path")
STUB(ti2vid_two_stages_hq, "Two stages with the second-order res_2s sampler.", "--checkpoint-path")
STUB(ti2vid_one_stage, "Text/image-to-video in one stage at full resolution.", "--checkpoint-path")
STUB(distilled, "Distilled model: 8 + 3 steps, no guidance.", "--distilled-checkpoint-path")
STUB(keyframe_interpolation, "Video between keyframe images.", "--checkpoint-path")
STUB(a2vid_two_stage, "Audio-to-video in two stages.", "--checkpoint-path")
STUB(retake, "Regenerate a time window of an existing video.", "--distilled-checkpoint-path")
STUB(ic_lora, "In-context LoRA with a reference/control video.", "--distilled-checkpoint-path")

/*
 * g_pipelines.c — golden handlers for the pipeline goldens (function id = pipeline name):
 * pipeline_distilled, pipeline_distilled_i2v (and, as they land, pipeline_one_stage,
 * pipeline_two_stage, pipeline_two_stage_lora, pipeline_two_stage_hq_res2s).
 *
 * Replay (golden README "How to replay a pipeline golden in the port"): the reference ran in
 * float32 (state and positions f32), contexts are the stored post-connector tensors
 * in.positive.* / in.negative.*, and every GaussianNoiser draw is fed from the stored
 * in.stageK.noise.* tensor — or, with `verify --noise-from-seed`, drawn from params.seed with
 * the torch CPU generator (src/core/rng.h) in params.noise_order, each draw then also compared
 * with the stored one. Every intermediate the pipeline records (stageK.stepI.*, upsampler.*,
 * out.*) is compared by name at the case tolerance. Images: the stored pixels after the H.264
 * round trip feed the preprocessing; the round trip itself is re-run from the stored source
 * pixels and compared on its own (image0.crf_roundtrip_uint8).
 */
#include "golden/g_pipelines_replay.h"

ltx_status ltx_g_pipeline_distilled(ltx_golden_ctx *g);
ltx_status ltx_g_pipeline_one_stage(ltx_golden_ctx *g);
ltx_status ltx_g_pipeline_two_stage(ltx_golden_ctx *g);
ltx_status ltx_g_pipeline_two_stage_hq(ltx_golden_ctx *g);

typedef ltx_status (*pipeline_fn)(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

static ltx_status run(ltx_golden_ctx *g, pipeline_fn fn)
{
    gp_replay r = {0};
    ltx_gen_output o = {0};
    ltx_status s = ltx_gp_replay_setup(g, &r);
    if (s == LTX_OK) s = fn(&r.p, &r.in, &o);
    if (s == LTX_OK) s = ltx_gp_emit_output(g, &o);
    ltx_gen_output_free(&o);
    ltx_gp_replay_free(&r);
    return s;
}

ltx_status ltx_g_pipeline_distilled(ltx_golden_ctx *g)
{
    return run(g, ltx_pipeline_distilled);
}
ltx_status ltx_g_pipeline_one_stage(ltx_golden_ctx *g)
{
    return run(g, ltx_pipeline_one_stage);
}
ltx_status ltx_g_pipeline_two_stage(ltx_golden_ctx *g)
{
    return run(g, ltx_pipeline_two_stages);
}
ltx_status ltx_g_pipeline_two_stage_hq(ltx_golden_ctx *g)
{
    return run(g, ltx_pipeline_two_stages_hq);
}

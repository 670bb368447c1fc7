/*
 * cmd_quantize.c — `ltx2c quantize IN OUT --type q8_0|q4_k|q5_k|q6_k|q4_0|...`: GGUF files
 * for low-memory runs (the conversion is src/models/quantize_file.c).
 *
 * IN a file: an LTX checkpoint (.safetensors or .gguf; bf16, f32 or official scaled-fp8) ->
 * OUT one .gguf holding the whole checkpoint, usable wherever a checkpoint path goes.
 * IN a folder: a Gemma 3 Hugging Face folder -> OUT a folder with model-<type>.gguf (llama.cpp
 * naming) plus the folder's config and tokenizer files, usable as --gemma-root.
 * Through ltx.h's ltx_quantize_file.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ltx2c quantize IN OUT --type TYPE\n\n"
            "Writes GGUF (v3) with block-quantized weights.\n"
            "  IN a checkpoint file (.safetensors / .gguf): OUT is one .gguf with the whole\n"
            "     checkpoint: transformer matrices quantized except adaln_single*,\n"
            "     caption_projection*, patchify_proj*, proj_out*, *scale_shift_table* (and their\n"
            "     audio_*/prompt_* twins) and the text connectors; VAEs, vocoder and the rest\n"
            "     copied as stored; the config metadata kept. Pass it as --checkpoint-path /\n"
            "     --distilled-checkpoint-path.\n"
            "  IN a Gemma 3 folder: OUT is a folder with model-TYPE.gguf in llama.cpp naming plus\n"
            "     the folder's config/tokenizer files. Pass it as --gemma-root.\n"
            "Rows that are not whole 256-element blocks take llama.cpp's fallback type (q4_k ->\n"
            "q5_0, q5_k -> q5_1, q6_k -> q8_0). OUT is written as OUT.tmp and renamed when\n"
            "complete; it may not be IN.\n\n"
            "  --type T    q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k or q6_k\n"
            "  -h, --help  this text\n");
}

int cmd_quantize(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *type = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            type = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("quantize", "unknown option '%s' (see ltx2c quantize --help)", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            cli_error("quantize", "IN and OUT expected, got also '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!in || !out || !type) {
        cli_error("quantize", "IN, OUT and --type are required (see ltx2c quantize --help)");
        return CLI_EXIT_USAGE;
    }
    ltx_dtype t;
    if (ltx_dtype_from_name(type, &t) != 0 || !ltx_dtype_is_block_quantized(t)) {
        cli_error("quantize",
                  "--type %s: not a block type (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, "
                  "q3_k, q4_k, q5_k, q6_k)",
                  type);
        return CLI_EXIT_USAGE;
    }
    struct stat sb;
    if (stat(in, &sb) != 0) {
        cli_error("quantize", "IN %s: no such file or folder", in);
        return CLI_EXIT_FAIL;
    }
    ltx_quantize_params qp;
    ltx_quantize_params_init(&qp); /* INFO lines to stderr */
    qp.type = t;
    if (ltx_quantize_file(in, out, &qp) != LTX_OK) {
        cli_error("quantize", "%s", ltx_last_error_global());
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

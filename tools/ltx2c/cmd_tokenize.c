/*
 * cmd_tokenize.c — `ltx2c tokenize --tokenizer FILE|FOLDER (--text STRING | --hex) [--no-bos]
 * [--ltx] [--max-length N]`: Gemma 3 token ids for text, as Hugging Face `tokenizers` gives them.
 *
 * One JSON array of ids per input. --hex reads one hex-encoded UTF-8 string per line from stdin,
 * so newlines and NULs survive. --ltx prints the LTX text path instead (ref:
 * ltx_core/text_encoders/gemma/tokenizer.py): {"input_ids":[...],"attention_mask":[...]} with
 * strip, BOS, truncation to 1024 and left padding. Thin client of ltx.h's Gemma tokenizer.
 */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: ltx2c tokenize --tokenizer PATH (--text STRING | --hex) [--no-bos] [--ltx]\n"
            "                      [--max-length N]\n\n"
            "Gemma 3 token ids of text, exactly as Hugging Face `tokenizers` (transformers'\n"
            "GemmaTokenizerFast) gives them for Gemma 3's tokenizer.json.\n\n"
            "  --tokenizer PATH  tokenizer.json, or a folder holding one (a Gemma root, as for\n"
            "                    --gemma-root). Required; scripts/setup.sh puts one in\n"
            "                    .cache/tokenizer-gemma3/.\n"
            "  --text STRING     encode STRING (one output line)\n"
            "  --hex             read stdin: one hex-encoded UTF-8 string per line (so newlines\n"
            "                    and NULs survive; an empty line is the empty string); one output\n"
            "                    line per input line\n"
            "  --no-bos          leave out <bos> (id 2); default adds it like LTX does\n"
            "  --ltx             the LTX text path: strip like Python str.strip(), <bos>, keep\n"
            "                    the first max-length tokens, LEFT-pad with <pad> (0); prints\n"
            "                    {\"input_ids\":[...],\"attention_mask\":[...]}\n"
            "  --max-length N    LTX path length (default 1024, LTX-2's value)\n\n"
            "Output: one JSON array of ids per input (or one --ltx object). Invalid UTF-8 bytes\n"
            "become U+FFFD first, as Python's decode(errors=\"replace\") does.\n\n"
            "examples:\n"
            "  ltx2c tokenize --tokenizer .cache/tokenizer-gemma3 --text \"A cat on a mat\"\n"
            "  printf 'hi\\nthere' | xxd -p | tr -d '\\n' | ltx2c tokenize --tokenizer T --hex\n");
}

static void print_ids(const int32_t *ids, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++)
        printf(i ? ",%d" : "%d", (int)ids[i]);
    putchar(']');
}

/* Encodes one input and prints one line; returns false (message printed) on failure. */
static bool run_one(const ltx_gemma_tokenizer *tok, const char *text, size_t len, bool bos,
                    bool ltx, int max_len)
{
    if (ltx) {
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_len);
        int32_t *mask = malloc(sizeof(int32_t) * (size_t)max_len);
        bool ok =
            ids && mask && ltx_gemma_tokenize_ltx(tok, text, len, max_len, ids, mask) == LTX_OK;
        if (ok) {
            printf("{\"input_ids\":");
            print_ids(ids, max_len);
            printf(",\"attention_mask\":");
            print_ids(mask, max_len);
            printf("}\n");
        } else
            cli_error("tokenize", "%s", ids && mask ? ltx_last_error_global() : "out of memory");
        free(ids);
        free(mask);
        return ok;
    }
    int32_t *ids = NULL;
    int n = 0;
    if (ltx_gemma_tokenizer_encode(tok, text, len, bos, &ids, &n) != LTX_OK) {
        cli_error("tokenize", "%s", ltx_last_error_global());
        return false;
    }
    print_ids(ids, n);
    putchar('\n');
    free(ids);
    return true;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* --hex: one line of stdin at a time. Returns an exit code. */
static int run_hex(const ltx_gemma_tokenizer *tok, bool bos, bool ltx, int max_len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = CLI_EXIT_OK;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t l = (size_t)got;
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            l--;
        if (l % 2) {
            cli_error("tokenize", "stdin line %d: odd number of hex digits", lineno);
            rc = CLI_EXIT_USAGE;
            break;
        }
        size_t k = 0;
        for (; k < l / 2; k++) { /* decode in place: byte k overwrites digits 2k, 2k+1 */
            int hi = hexval((unsigned char)line[2 * k]),
                lo = hexval((unsigned char)line[2 * k + 1]);
            if (hi < 0 || lo < 0) break;
            line[k] = (char)(hi * 16 + lo);
        }
        if (k != l / 2) {
            cli_error("tokenize", "stdin line %d: not hex", lineno);
            rc = CLI_EXIT_USAGE;
            break;
        }
        if (!run_one(tok, line, k, bos, ltx, max_len)) {
            rc = CLI_EXIT_FAIL;
            break;
        }
    }
    free(line);
    fflush(stdout);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL, *text = NULL;
    bool hex = false, bos = true, ltx = false;
    int max_len = LTX_PROMPT_MAX_TOKENS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--tokenizer") && has_val) {
            path = argv[++i];
        } else if (!strcmp(a, "--text") && has_val) {
            text = argv[++i];
        } else if (!strcmp(a, "--max-length") && has_val) {
            if (!ltx_parse_int(argv[++i], 1, 1 << 20, &max_len)) {
                cli_error("tokenize", "--max-length wants an integer in 1..1048576, got '%s'",
                          argv[i]);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--hex")) {
            hex = true;
        } else if (!strcmp(a, "--no-bos")) {
            bos = false;
        } else if (!strcmp(a, "--ltx")) {
            ltx = true;
        } else {
            cli_error("tokenize", "%s '%s' (see ltx2c tokenize --help)",
                      a[0] == '-' ? "unknown option or missing value" : "unexpected argument", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (!path) {
        cli_error("tokenize", "--tokenizer PATH is required (tokenizer.json or a folder with one; "
                              "scripts/setup.sh fetches it to .cache/tokenizer-gemma3/)");
        return CLI_EXIT_USAGE;
    }
    if (!!text == hex) {
        cli_error("tokenize", "give exactly one of --text STRING or --hex");
        return CLI_EXIT_USAGE;
    }
    if (ltx && !bos) {
        cli_error("tokenize", "--ltx always adds <bos> (LTX does); drop --no-bos");
        return CLI_EXIT_USAGE;
    }
    ltx_gemma_tokenizer *tok = NULL;
    if (ltx_gemma_tokenizer_load(path, &tok) != LTX_OK) {
        cli_error("tokenize", "%s", ltx_last_error_global());
        return CLI_EXIT_FAIL;
    }
    int rc =
        hex ? run_hex(tok, bos, ltx, max_len)
            : (run_one(tok, text, strlen(text), bos, ltx, max_len) ? CLI_EXIT_OK : CLI_EXIT_FAIL);
    ltx_gemma_tokenizer_free(tok);
    return rc;
}

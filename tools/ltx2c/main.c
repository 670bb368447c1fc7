/*
 * main.c — ltx2c: the command-line front end of libltx. Dispatches to the subcommands listed
 * in commands.def; every subcommand has its own --help.
 */
#include "cli.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#define LTX2C_COMMAND(name, summary) {#name, cmd_##name, summary},
#include "commands.def"
#undef LTX2C_COMMAND
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "ltx2c %d.%d.%d — LTX-2.3 audio+video generation in plain C\n\n"
            "usage: ltx2c <command> [options]   (ltx2c <command> --help for details)\n\n"
            "commands:\n",
            LTX_VERSION_MAJOR, LTX_VERSION_MINOR, LTX_VERSION_PATCH);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-24s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexamples:\n"
               "  ltx2c info\n"
               "  ltx2c inspect ltx-2.3-22b-distilled.safetensors\n"
               "  ltx2c verify tests/data/golden/modules/schedulers.safetensors\n"
               "  ltx2c distilled --distilled-checkpoint-path ltx-2.3-22b-distilled.safetensors \\\n"
               "      --spatial-upsampler-path ltx-2.3-spatial-upscaler-x2-1.1.safetensors \\\n"
               "      --gemma-root gemma-3-12b-it-qat-q4_0-unquantized \\\n"
               "      --prompt \"A red fox runs through snow\" --output-path fox.mp4\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ltx2c %d.%d.%d\n", LTX_VERSION_MAJOR, LTX_VERSION_MINOR, LTX_VERSION_PATCH);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ltx2c: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}

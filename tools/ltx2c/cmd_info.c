/* cmd_info.c — `ltx2c info`: backends, devices, capabilities, memory. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv)
{
    const char *device = "auto";
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: ltx2c info [--device auto|cpu|cpu-restricted|cuda[:N]]\n\n"
                   "Prints the compiled backends, the device that --device selects, its\n"
                   "capabilities (float64, complex, fp32 autocast, fused attention, conv3d,\n"
                   "async streams, storage dtypes) and its memory. Without --device, every\n"
                   "available device is listed.\n");
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            device = argv[++i];
        } else {
            cli_error("info", "unknown option '%s' (see ltx2c info --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    printf("compiled backends: cpu, cpu-restricted%s\n",
#ifdef LTX_HAVE_CUDA
           ", cuda"
#else
           " (cuda: not built — nvcc absent at configure time)"
#endif
    );
    const char *list[] = {"cpu", "cpu-restricted"};
    int all = !strcmp(device, "auto");
    int n = all ? 2 : 1;
    for (int i = 0; i < n; i++) {
        const char *dev = all ? list[i] : device;
        ltx_engine *e = cli_open_engine(dev, 0, 0, LTX_LOG_WARN);
        if (!e) return CLI_EXIT_FAIL;
        char buf[2048];
        ltx_engine_info(e, buf, sizeof buf);
        printf("\n%s", buf);
        ltx_engine_close(e);
    }
    return CLI_EXIT_OK;
}

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
    /* every backend compiled into this build (ltx_backend_built: cuda only with nvcc) */
    const char *const *built = ltx_backend_built();
    printf("compiled backends:");
    for (int i = 0; built[i]; i++)
        printf("%s %s", i ? "," : "", built[i]);
    bool has_cuda = false;
    for (int i = 0; built[i]; i++)
        has_cuda |= !strcmp(built[i], "cuda");
    printf("%s\n",
           has_cuda ? "" : " (cuda: not built — no nvcc or no src/backend/cuda at configure time)");
    /* --device auto lists every built device; an accelerator without hardware is reported,
     * not fatal (the explicit --device form fails instead) */
    int all = !strcmp(device, "auto");
    for (int i = 0; all ? built[i] != NULL : i < 1; i++) {
        const char *dev = all ? built[i] : device;
        bool accel = strncmp(dev, "cpu", 3) != 0;
        ltx_engine *e = all && accel ? NULL : cli_open_engine(dev, NULL, 0, 0, LTX_LOG_WARN);
        if (all && accel) {
            ltx_engine_params p;
            ltx_engine_params_init(&p);
            p.device = dev;
            p.log_level = LTX_LOG_WARN;
            if (ltx_engine_open(&p, &e) != LTX_OK) {
                printf("\ndevice: %s unavailable (%s)\n", dev, ltx_last_error_global());
                continue;
            }
        }
        if (!e) return CLI_EXIT_FAIL;
        char buf[2048];
        ltx_engine_info(e, buf, sizeof buf);
        printf("\n%s", buf);
        ltx_engine_close(e);
    }
    return CLI_EXIT_OK;
}

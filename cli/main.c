/* main.c — `clft`, git-style subcommands (DESIGN.md "Command line"). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/backend/backend.h"
#include "core/backend/blas.h"
#include "core/dist/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static void print_version(void)
{
    printf("clft %s (commit %s)\n", CLFT_VERSION, CLFT_GIT_COMMIT);
    printf("BLAS: OpenBLAS core %s (%s), %d threads\n", blas_core_name(), blas_core_origin(),
           blas_get_threads());
    printf("backends (--device):");
    for (const Backend *const *b = backend_all(); *b; b++) printf(" %s", (*b)->name);
    printf("\n");
    for (const Backend *const *b = backend_all(); *b; b++)
        printf("  %-10s %s\n", (*b)->name, (*b)->summary);
    printf("data parallel: %s\n", dist_summary());
}

int main(int argc, char **argv)
{
    blas_setup(argv);
    const Command commands[] = {
        {"pretrain", cmd_pretrain, "pre-train a MoCo encoder (with or without FT)"},
        {"eval", cmd_eval, "evaluate a run's encoder (knn, linear, semisup, longtail, transfer)"},
        {"plot", cmd_plot, "figures for one run or a comparison"},
        {"reproduce", cmd_reproduce, "run a preset's experiment matrix"},
        {"check", cmd_check, "hold results/summary.csv against expected bands"},
        {"export", cmd_export, "export a backbone with torchvision names"},
        {"data", cmd_data, "inspect and verify a dataset"},
    };
    const int n = (int)(sizeof commands / sizeof commands[0]);
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        print_version();
        return 0;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        printf("usage: clft <command> [options]   (clft <command> --help for its options)\n\n");
        for (int i = 0; i < n; i++)
            printf("  %-10s %s\n", commands[i].name, commands[i].summary);
        printf("  %-10s %s\n", "--version", "version, commit and BLAS kernels");
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "clft: unknown command '%s' (see clft --help)\n", argv[1]);
    return 2;
}

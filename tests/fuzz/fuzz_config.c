/* fuzz_config.c — libFuzzer target for the configuration parsers of core/io/config.c: INI text
 * (through inih and our line reader) and --set assignments, then the cross-field checks.
 * Input: byte 0 even = the rest is an INI file; odd = the rest is one --set argument per line.
 * Property checked on every accepted config (MoCo v1's recipe, then the input): writing it
 * (config_to_string) and loading that text on the defaults gives back the same config, byte for
 * byte (what a resumed run relies on). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/baseline.h"
#include "core/io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const Config *c)
{
    char *text = config_to_string(c);
    Config back;
    config_defaults(&back);
    if (config_load_string(&back, text, "round-trip") != CLFT_OK) {
        fprintf(stderr, "round trip failed: %s\n--- text ---\n%s\n", clft_last_error(), text);
        abort();
    }
    if (memcmp(c, &back, offsetof(Config, variant_origin)) != 0) {
        fprintf(stderr, "round trip changed the config\n--- text ---\n%s\n", text);
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char *text = malloc(size); /* the rest, NUL-terminated */
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    Config c; /* MoCo v1's recipe: config_defaults alone leaves its keys unset */
    ClftStatus st = config_resolve(&c, "moco_v1", NULL, NULL);
    ASSERT(st == CLFT_OK);
    if (data[0] & 1) {
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && st == CLFT_OK;
             line = strtok_r(NULL, "\n", &save))
            st = config_set(&c, line);
    } else {
        Config before = c;
        st = config_load_string(&c, text, "fuzz.ini");
        if (st != CLFT_OK) ASSERT(!memcmp(&c, &before, sizeof c)); /* all or nothing */
    }
    if (st == CLFT_OK) {
        (void)config_validate(&c);
        check_round_trip(&c);
    } else {
        ASSERT(clft_last_error()[0]);
    }
    free(text);
    return 0;
}

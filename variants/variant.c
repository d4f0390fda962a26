/* variant.c — the registry of variants, looked up by name once per run. */
#include "variants/variant.h"

#include <string.h>

extern const Variant variant_none;

static const Variant *const registry[] = {
    &variant_none,
    NULL,
};

const Variant *variant_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const Variant *const *variant_all(void) { return registry; }

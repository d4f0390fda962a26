/* backend.c — backend_find(): the list of built backend tables, looked up by name once at start. */
#include "core/backend/backend.h"

#include <string.h>

/* A CUDA build adds its table here (guarded by the build's CUDA definition); layers never change.
 */
static const Backend *const backend_list[] = {
    &backend_cpu,
    NULL,
};

const Backend *backend_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; backend_list[i]; i++)
        if (strcmp(backend_list[i]->name, name) == 0) return backend_list[i];
    return NULL;
}

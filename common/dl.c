/* dl.c: filling a dlopen()ed library's function table (dl.h). */
#include "common/dl.h"

#include <dlfcn.h>
#include <string.h>

#include "common/banned.h"

const char *vg_dl_load(void *handle, const struct vg_dl_sym *syms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(handle, syms[i].name);
		if (p == NULL)
			return syms[i].name;
		/* ISO C has no cast from void * to a function pointer;
		 * POSIX guarantees the representation is the same. */
		memcpy(syms[i].dst, &p, sizeof(p));
	}
	return NULL;
}

/* dl.c: filling a dlopen()ed library's function table (dl.h). */
#include "common/dl.h"
#include "common/err.h"

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

void *vg_dl_open(const char *soname, const char *package, const char *what, const struct vg_dl_sym *syms,
		 size_t n, struct vg_err *err)
{
	void *handle = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
	const char *missing;

	if (handle == NULL) {
		vg_err_set(err, VG_ENOENT, "%s needs %s (install %s): %s", what, soname, package, dlerror());
		return NULL;
	}
	if ((missing = vg_dl_load(handle, syms, n)) != NULL) {
		dlclose(handle);
		vg_err_set(err, VG_ENOENT, "%s: %s lacks %s", what, soname, missing);
		return NULL;
	}
	return handle;
}

/*
 * banned.h: calls that are easy to misuse, turned into compile errors.
 * Every .c file of Vigil includes it last. Use snprintf, vg_buf, memcpy with
 * an explicit length, strtoll with end checks.
 */
#ifndef VG_BANNED_H
#define VG_BANNED_H

#define VG_BANNED(func) sorry_##func##_is_banned_in_vigil

#undef strcpy
#define strcpy(x, y) VG_BANNED(strcpy)
#undef strcat
#define strcat(x, y) VG_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) VG_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) VG_BANNED(strncat)
#undef sprintf
#define sprintf(...) VG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) VG_BANNED(vsprintf)
#undef gets
#define gets(x) VG_BANNED(gets)
#undef atoi
#define atoi(x) VG_BANNED(atoi)
#undef atol
#define atol(x) VG_BANNED(atol)
#undef strtok
#define strtok(x, y) VG_BANNED(strtok)

#endif

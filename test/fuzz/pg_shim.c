/*
 * Just enough of the PostgreSQL backend for src/json.c and src/tape.c to
 * run in a fuzzer: one memory arena (a "context" whose reset runs the
 * registered callbacks and frees every allocation, as PostgreSQL's does),
 * ereport(ERROR) as a longjmp back to the harness, as PostgreSQL's error
 * recovery does, and the few UTF-8 functions of src/common/wchar.c that
 * tape.c uses.  Everything json.c allocates must be released by the reset:
 * LeakSanitizer then finds what an error path forgets.  pfree and repalloc
 * really free the old block, so AddressSanitizer finds a use after them.
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>

#include "mb/pg_wchar.h"
#include "nodes/memnodes.h"
#include "utils/memutils.h"

/* the C library's: libpgport is not linked in */
#undef vsnprintf

#include "pg_shim.h"

typedef struct Allocation
{
	struct Allocation *prev;
	struct Allocation *next;
	Size		size;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} Allocation;

static Allocation *allocations = NULL;
static MemoryContextCallback *callbacks = NULL;
static MemoryContextData arena;

MemoryContext CurrentMemoryContext = &arena;
sigjmp_buf	shim_error_jump;
int			shim_errors = 0;
char		shim_error_detail[512];

static int	current_elevel;

static void *
allocate(Size size, Size limit)
{
	Allocation *a;

	/* what PostgreSQL raises as "invalid memory alloc request size" */
	if (size > limit)
		abort();
	a = malloc(offsetof(Allocation, data) + size);
	if (a == NULL)
		abort();
	a->size = size;
	a->prev = NULL;
	a->next = allocations;
	if (allocations != NULL)
		allocations->prev = a;
	allocations = a;
	return a->data;
}

static Allocation *
allocation_of(void *pointer)
{
	return (Allocation *) ((char *) pointer - offsetof(Allocation, data));
}

static void
release(Allocation *a)
{
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		allocations = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	free(a);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return allocate(size, MaxAllocSize);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	void	   *p = allocate(size, MaxAllocSize);

	memset(p, 0, size);
	return p;
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return allocate(size, MaxAllocHugeSize);
}

void *
palloc(Size size)
{
	return MemoryContextAlloc(CurrentMemoryContext, size);
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

static void *
reallocate(void *pointer, Size size, Size limit)
{
	Allocation *old = allocation_of(pointer);
	void	   *p = allocate(size, limit);

	memcpy(p, pointer, Min(size, old->size));
	release(old);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	return reallocate(pointer, size, MaxAllocSize);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return reallocate(pointer, size, MaxAllocHugeSize);
}

/* The block goes at once, so AddressSanitizer sees a use after pfree. */
void
pfree(void *pointer)
{
	release(allocation_of(pointer));
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out = palloc(len + 1);

	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
psprintf(const char *fmt,...)
{
	va_list		args;
	int			len;
	char	   *out;

	va_start(args, fmt);
	len = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	out = palloc(len + 1);
	va_start(args, fmt);
	vsnprintf(out, len + 1, fmt, args);
	va_end(args);
	return out;
}

void
MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb)
{
	cb->next = callbacks;
	callbacks = cb;
}

void
shim_reset_arena(void)
{
	while (callbacks != NULL)
	{
		MemoryContextCallback *cb = callbacks;

		callbacks = cb->next;
		cb->func(cb->arg);
	}
	while (allocations != NULL)
		release(allocations);
}

bool
errstart(int elevel, const char *domain)
{
	current_elevel = elevel;
	shim_error_detail[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (current_elevel >= ERROR)
	{
		shim_errors++;
		siglongjmp(shim_error_jump, 1);
	}
}

int
errcode(int sqlerrcode)
{
	return 0;
}

int
errmsg(const char *fmt,...)
{
	return 0;
}

/* Kept for the harness to print when it finds something. */
int
errdetail(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(shim_error_detail, sizeof(shim_error_detail), fmt, args);
	va_end(args);
	return 0;
}

/*
 * src/common/wchar.c of PostgreSQL 15, the UTF-8 functions tape.c uses,
 * with the same results for every input.
 */
int
pg_utf_mblen(const unsigned char *s)
{
	if ((*s & 0x80) == 0)
		return 1;
	if ((*s & 0xe0) == 0xc0)
		return 2;
	if ((*s & 0xf0) == 0xe0)
		return 3;
	if ((*s & 0xf8) == 0xf0)
		return 4;
	return 1;					/* an illegal lead byte, or one of 5 or 6 */
}

/* RFC 3629: no overlong form, no surrogate, nothing beyond U+10FFFF */
bool
pg_utf8_islegal(const unsigned char *source, int length)
{
	unsigned char a;

	switch (length)
	{
		default:
			/* reject lengths 5 and 6 for now */
			return false;
		case 4:
			a = source[3];
			if (a < 0x80 || a > 0xBF)
				return false;
			/* FALL THRU */
		case 3:
			a = source[2];
			if (a < 0x80 || a > 0xBF)
				return false;
			/* FALL THRU */
		case 2:
			a = source[1];
			switch (*source)
			{
				case 0xE0:
					if (a < 0xA0 || a > 0xBF)
						return false;
					break;
				case 0xED:
					if (a < 0x80 || a > 0x9F)
						return false;
					break;
				case 0xF0:
					if (a < 0x90 || a > 0xBF)
						return false;
					break;
				case 0xF4:
					if (a < 0x80 || a > 0x8F)
						return false;
					break;
				default:
					if (a < 0x80 || a > 0xBF)
						return false;
					break;
			}
			/* FALL THRU */
		case 1:
			a = *source;
			if (a >= 0x80 && a < 0xC2)
				return false;
			if (a > 0xF4)
				return false;
			break;
	}
	return true;
}

/* 17 made it an inline function of mb/pg_wchar.h */
#if PG_VERSION_NUM < 170000
unsigned char *
unicode_to_utf8(pg_wchar c, unsigned char *utf8string)
{
	if (c <= 0x7F)
	{
		utf8string[0] = c;
	}
	else if (c <= 0x7FF)
	{
		utf8string[0] = 0xC0 | ((c >> 6) & 0x1F);
		utf8string[1] = 0x80 | (c & 0x3F);
	}
	else if (c <= 0xFFFF)
	{
		utf8string[0] = 0xE0 | ((c >> 12) & 0x0F);
		utf8string[1] = 0x80 | ((c >> 6) & 0x3F);
		utf8string[2] = 0x80 | (c & 0x3F);
	}
	else
	{
		utf8string[0] = 0xF0 | ((c >> 18) & 0x07);
		utf8string[1] = 0x80 | ((c >> 12) & 0x3F);
		utf8string[2] = 0x80 | ((c >> 6) & 0x3F);
		utf8string[3] = 0x80 | (c & 0x3F);
	}
	return utf8string;
}
#endif

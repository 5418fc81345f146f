/*
 * Just enough of the PostgreSQL backend for src/json.c to run in a fuzzer:
 * one memory arena (a "context" whose reset runs the registered callbacks
 * and frees every allocation, as PostgreSQL's does), and ereport(ERROR)
 * as a longjmp back to the harness, as PostgreSQL's error recovery does.
 * Everything json.c allocates must be released by the reset: LeakSanitizer
 * then finds what an error path forgets.
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>

#include "nodes/memnodes.h"

/* the C library's: libpgport is not linked in */
#undef vsnprintf

#include "pg_shim.h"

typedef struct Allocation
{
	struct Allocation *next;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} Allocation;

static Allocation *allocations = NULL;
static MemoryContextCallback *callbacks = NULL;
static MemoryContextData arena;

MemoryContext CurrentMemoryContext = &arena;
sigjmp_buf	shim_error_jump;
int			shim_errors = 0;

static int	current_elevel;

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	Allocation *a = malloc(offsetof(Allocation, data) + size);

	if (a == NULL)
		abort();
	a->next = allocations;
	allocations = a;
	return a->data;
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

/* Freed with the arena: like pfree in a context that is reset later. */
void
pfree(void *pointer)
{
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
	{
		Allocation *a = allocations;

		allocations = a->next;
		free(a);
	}
}

bool
errstart(int elevel, const char *domain)
{
	current_elevel = elevel;
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

int
errdetail(const char *fmt,...)
{
	return 0;
}

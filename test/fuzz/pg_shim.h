/* The fuzz harness's view of pg_shim.c. */
#ifndef PG_SHIM_H
#define PG_SHIM_H

#include <setjmp.h>

extern sigjmp_buf shim_error_jump;
extern int	shim_errors;
extern char shim_error_detail[512];	/* of the last ereport */
extern void shim_reset_arena(void);

#endif

/*-------------------------------------------------------------------------
 *
 * budget.c
 *		  Request budgets per credential identity: the "rate_limit" as a
 *		  token bucket, and the pauses an API asks for (Retry-After).
 *
 * An API counts requests per credential, not per backend.  With cloud_fdw
 * in shared_preload_libraries, the budgets live in shared memory and every
 * backend draws from the same one, so a limit holds for the whole cluster
 * and a Retry-After seen by one backend pauses the others.  Without
 * preloading, each backend keeps its own budgets.  An identity is a hash of
 * the endpoint and the credentials: the secret itself is never kept.
 *
 * The pacer runs between curl calls, so nothing here may raise an error:
 * the critical sections are a few assignments under a spinlock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"

/* Identities the shared area holds; the least recently used one makes room. */
#define CF_SHARED_BUDGETS 256
#define CF_LOCAL_BUDGETS 64

typedef struct CfBudget
{
	uint64		identity;		/* 0: free */
	TimestampTz next_start;		/* the bucket's next token is due then */
	TimestampTz paused_until;	/* the API asked for a pause until then */
	TimestampTz last_used;
} CfBudget;

typedef struct CfSharedBudgets
{
	slock_t		mutex;
	CfBudget	budgets[CF_SHARED_BUDGETS];
} CfSharedBudgets;

static CfSharedBudgets *shared_budgets = NULL;
static CfBudget local_budgets[CF_LOCAL_BUDGETS];

/* From the shmem_request_hook: the size of the shared budgets. */
Size
cf_budget_shmem_size(void)
{
	return sizeof(CfSharedBudgets);
}

/* From the shmem_startup_hook, under AddinShmemInitLock. */
void
cf_budget_attach_shmem(void)
{
	bool		found;

	shared_budgets = ShmemInitStruct("cloud_fdw budgets", sizeof(CfSharedBudgets), &found);
	if (!found)
	{
		memset(shared_budgets, 0, sizeof(CfSharedBudgets));
		SpinLockInit(&shared_budgets->mutex);
	}
}

/* The budget of an identity among n, taking the least recently used one's place. */
static CfBudget *
find_budget(CfBudget *budgets, int n, uint64 identity)
{
	CfBudget   *oldest = &budgets[0];

	for (int i = 0; i < n; i++)
	{
		if (budgets[i].identity == identity)
			return &budgets[i];
		if (budgets[i].last_used < oldest->last_used)
			oldest = &budgets[i];
	}
	memset(oldest, 0, sizeof(CfBudget));
	oldest->identity = identity;
	return oldest;
}

/*
 * When a request of this identity may start: after the pause the API asked
 * for, and with a rate, one token later than the previous request (a
 * bucket of one token: requests never come closer than 1/rate apart).
 * retry_after_ms >= 0 records a pause the API asked for, from now.
 */
TimestampTz
cf_budget_next_start(uint64 identity, double rate, long retry_after_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	CfBudget   *budget;
	TimestampTz start;

	if (shared_budgets != NULL)
		SpinLockAcquire(&shared_budgets->mutex);
	budget = shared_budgets != NULL
		? find_budget(shared_budgets->budgets, CF_SHARED_BUDGETS, identity)
		: find_budget(local_budgets, CF_LOCAL_BUDGETS, identity);
	budget->last_used = now;
	if (retry_after_ms >= 0)
		budget->paused_until = Max(budget->paused_until,
								   TimestampTzPlusMilliseconds(now, retry_after_ms));
	start = Max(now, budget->paused_until);
	if (rate > 0)
	{
		start = Max(start, budget->next_start);
		budget->next_start = start + (TimestampTz) (USECS_PER_SEC / rate);
	}
	if (shared_budgets != NULL)
		SpinLockRelease(&shared_budgets->mutex);
	return start;
}

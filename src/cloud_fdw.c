/*-------------------------------------------------------------------------
 *
 * cloud_fdw.c
 *		  Foreign-data wrapper for cloud resources managed through REST APIs:
 *		  module setup and the handler.
 *
 * A scan lists a resource page by page, or gets one item when the query
 * names its key (plan.c, scan.c); an UPDATE sends a partial body per
 * changed row and takes the row back from the API's answer (modify.c).
 * Which calls, paths and fields exist comes from the registry (registry.c),
 * never from the engine.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "cloud_fdw.h"

CF_MODULE_MAGIC;

void		_PG_init(void);

bool		cloud_fdw_trace = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ----------------------------------------------------------------
 * Module setup and handler
 * ----------------------------------------------------------------
 */

/* Shared memory, when preloaded: the request budgets and the cache. */
static void
request_shared_memory(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(cf_budget_shmem_size());
	cf_cache_request_shmem();
}

static void
attach_shared_memory(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cf_budget_attach_shmem();
	cf_cache_attach_shmem();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("cloud_fdw.trace",
							 "Reports every cloud API request as a NOTICE.",
							 "Shows method, path with query and body; never credentials.",
							 &cloud_fdw_trace,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	cf_cache_init();
	MarkGUCPrefixReserved("cloud_fdw");
	cf_http_init();
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = request_shared_memory;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = attach_shared_memory;
	}
}

PG_FUNCTION_INFO_V1(cloud_fdw_handler);

Datum
cloud_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = cloudGetForeignRelSize;
	routine->GetForeignPaths = cloudGetForeignPaths;
	routine->GetForeignPlan = cloudGetForeignPlan;
	routine->ExplainForeignScan = cloudExplainForeignScan;
	routine->BeginForeignScan = cloudBeginForeignScan;
	routine->IterateForeignScan = cloudIterateForeignScan;
	routine->ReScanForeignScan = cloudReScanForeignScan;
	routine->EndForeignScan = cloudEndForeignScan;
	routine->GetForeignUpperPaths = cloudGetForeignUpperPaths;

	routine->IsForeignPathAsyncCapable = cloudIsForeignPathAsyncCapable;
	routine->ForeignAsyncRequest = cloudForeignAsyncRequest;
	routine->ForeignAsyncConfigureWait = cloudForeignAsyncConfigureWait;
	routine->ForeignAsyncNotify = cloudForeignAsyncNotify;

	routine->AnalyzeForeignTable = cloudAnalyzeForeignTable;

	routine->IsForeignRelUpdatable = cloudIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = cloudAddForeignUpdateTargets;
	routine->PlanForeignModify = cloudPlanForeignModify;
	routine->BeginForeignModify = cloudBeginForeignModify;
	routine->ExecForeignUpdate = cloudExecForeignUpdate;
	routine->EndForeignModify = cloudEndForeignModify;
	routine->ExplainForeignModify = cloudExplainForeignModify;

	routine->ImportForeignSchema = cf_import_foreign_schema;

	PG_RETURN_POINTER(routine);
}

PG_FUNCTION_INFO_V1(cloud_fdw_registry_problems);

/*
 * The registry's self-check, for a regression test (not part of the
 * extension's SQL): per resource, its provider, how many calls it declares,
 * and each problem of its declaration, or one row with a null problem.
 */
Datum
cloud_fdw_registry_problems(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < cf_resource_count(); i++)
	{
		const CfResource *resource = cf_resource_at(i);
		int			ncalls;
		List	   *problems = cf_registry_problems(resource, &ncalls);
		ListCell   *lc;
		Datum		values[4];
		bool		nulls[4] = {false};

		values[0] = CStringGetTextDatum(resource->name);
		values[1] = CStringGetTextDatum(resource->provider->name);
		values[2] = Int32GetDatum(ncalls);
		if (problems == NIL)
		{
			nulls[3] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		foreach(lc, problems)
		{
			values[3] = CStringGetTextDatum((char *) lfirst(lc));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}

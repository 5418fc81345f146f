/*-------------------------------------------------------------------------
 *
 * cf_compat.h
 *		  What differs between the PostgreSQL majors cloud_fdw builds on,
 *		  15 to 18, so that no other file needs a version check.
 *
 * Each guard is named for the change it bridges.  The newest API is the
 * one spelled out; older servers get a stand-in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CF_COMPAT_H
#define CF_COMPAT_H

#include "commands/explain.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/cost.h"
#include "optimizer/pathnode.h"
#include "utils/wait_event.h"

/* 18: explain.h no longer declares ExplainState and the ExplainProperty calls. */
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

/* 18: the C11 prefix pg_noreturn replaced the postfix pg_attribute_noreturn(). */
#ifndef pg_noreturn
#define pg_noreturn _Noreturn
#endif

/* 18: modules name themselves and their version (pg_get_loaded_modules). */
#ifdef PG_MODULE_MAGIC_EXT
#define CF_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "cloud_fdw", .version = CLOUD_FDW_VERSION)
#else
#define CF_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * 16: the user to check permissions as (a view's owner) moved from the
 * range table entry to RTEPermissionInfo, which inheritance children do not
 * have; the planner copies it into ForeignScan, and the executor finds a
 * result relation's through its root.  rtindex is the foreign table's (a
 * scan of an aggregate has no scanrelid).
 */
static inline Oid
cf_scan_user(const ForeignScan *plan, EState *estate, Index rtindex)
{
#if PG_VERSION_NUM >= 160000
	Oid			userid = plan->checkAsUser;
#else
	Oid			userid = exec_rt_fetch(rtindex, estate)->checkAsUser;
#endif

	return OidIsValid(userid) ? userid : GetUserId();
}

static inline Oid
cf_result_rel_user(ResultRelInfo *rinfo, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecGetResultRelCheckAsUser(rinfo, estate);
#else
	Oid			userid = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate)->checkAsUser;

	return OidIsValid(userid) ? userid : GetUserId();
#endif
}

/*
 * 17 added fdw_restrictinfo to the foreign path constructors, 18 the count
 * of disabled nodes, which the planner compares ahead of cost.
 */
static inline ForeignPath *
cf_create_foreignscan_path(PlannerInfo *root, RelOptInfo *rel, PathTarget *target,
						   double rows, int disabled_nodes,
						   Cost startup_cost, Cost total_cost, List *pathkeys,
						   Relids required_outer, Path *fdw_outerpath,
						   List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreignscan_path(root, rel, target, rows, disabled_nodes,
								   startup_cost, total_cost, pathkeys, required_outer,
								   fdw_outerpath, NIL, fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreignscan_path(root, rel, target, rows,
								   startup_cost, total_cost, pathkeys, required_outer,
								   fdw_outerpath, NIL, fdw_private);
#else
	return create_foreignscan_path(root, rel, target, rows,
								   startup_cost, total_cost, pathkeys, required_outer,
								   fdw_outerpath, fdw_private);
#endif
}

/* 17: upper paths take restriction clauses; 18: disabled nodes, as above. */
static inline ForeignPath *
cf_create_foreign_upper_path(PlannerInfo *root, RelOptInfo *rel, PathTarget *target,
							 double rows, Cost startup_cost, Cost total_cost,
							 List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreign_upper_path(root, rel, target, rows, 0, startup_cost, total_cost,
									 NIL, NULL, NIL, fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreign_upper_path(root, rel, target, rows, startup_cost, total_cost,
									 NIL, NULL, NIL, fdw_private);
#else
	return create_foreign_upper_path(root, rel, target, rows, startup_cost, total_cost,
									 NIL, NULL, fdw_private);
#endif
}

/*
 * A path that must lose to every other one, even to plans that a setting
 * such as enable_nestloop = off disables.  From 18, a disabled node counts
 * ahead of any cost; before, disabling only added disable_cost, so a cost
 * far above that does it.
 */
#if PG_VERSION_NUM >= 180000
#define CF_LAST_RESORT_DISABLED_NODES 1
#else
#define CF_LAST_RESORT_DISABLED_NODES 0
#endif
#define CF_LAST_RESORT_COST (1000.0 * disable_cost)

/*
 * 17: an extension's wait events have names of their own, so that
 * pg_stat_activity shows CloudFdwRequest; before, they all show as
 * "Extension".  Registering takes a lock, so it happens once per backend.
 */
static inline uint32
cf_wait_event_request(void)
{
#if PG_VERSION_NUM >= 170000
	static uint32 wait_event = 0;

	if (wait_event == 0)
		wait_event = WaitEventExtensionNew("CloudFdwRequest");
	return wait_event;
#else
	return PG_WAIT_EXTENSION;
#endif
}

#endif							/* CF_COMPAT_H */

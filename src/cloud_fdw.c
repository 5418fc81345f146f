/*-------------------------------------------------------------------------
 *
 * cloud_fdw.c
 *		  Foreign-data wrapper for cloud resources managed through REST APIs:
 *		  the FDW callbacks of the generic engine.
 *
 * A scan lists a resource page by page, or gets one item when the query
 * names its key; an UPDATE sends a partial body per changed row and takes
 * the row back from the API's answer.  Which calls, paths and fields exist
 * comes from the registry (registry.c), never from code here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/typcache.h"

#include "cloud_fdw.h"

PG_MODULE_MAGIC;

/*
 * Planner cost of one HTTP round trip, in the planner's units (a sequential
 * page read is 1.0): a request to a cloud API takes tens of milliseconds.
 */
#define CF_REQUEST_COST 500.0

/* Name of the row identity column UPDATE carries to find the remote item. */
#define CF_KEY_JUNK_NAME "cloud_fdw_key"

/* Planner state of a foreign table. */
typedef struct CfRelInfo
{
	CfOptions	opts;
	Expr	   *key_expr;		/* key = key_expr is served by one get, or NULL */
	Bitmapset  *attrs_used;		/* attribute numbers the query reads */
	double		requests;		/* requests a scan is expected to make */
} CfRelInfo;

/* Indexes into a ForeignScan's fdw_private. */
enum CfScanPrivate
{
	CF_SCAN_BY_KEY,				/* Integer: 1 when fdw_exprs holds the key */
	CF_SCAN_ATTRS				/* IntList of attribute numbers to convert */
};

typedef struct CfScanState
{
	CfOptions	opts;
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	bool		by_key;
	ExprState  *key_state;
	MemoryContext scancxt;		/* lives as long as the scan */
	MemoryContext pagecxt;		/* one fetched page, reset per page */
	CfJson	   *items;			/* the current page's items */
	int			nitems;
	int			next_item;
	bool		started;
	bool		done;			/* no page left to fetch */
	CfPageCursor cursor;
} CfScanState;

typedef struct CfModifyState
{
	CfOptions	opts;
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	List	   *target_attrs;	/* updated columns, shallow JSON paths first */
	AttrNumber	key_attno;		/* junk attribute with the item's key */
	AttrNumber	wholerow_attno; /* junk attribute with the old row */
	MemoryContext rowcxt;		/* reset per row */
	int64		applied;		/* rows this statement changed remotely */
	const char *current_key;
} CfModifyState;

void		_PG_init(void);

/* ----------------------------------------------------------------
 * Module setup and handler
 * ----------------------------------------------------------------
 */
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
	MarkGUCPrefixReserved("cloud_fdw");
	cf_http_init();
}

static void cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *cloudGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses, Plan *outer_plan);
static void cloudExplainForeignScan(ForeignScanState *node, ExplainState *es);
static void cloudBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *cloudIterateForeignScan(ForeignScanState *node);
static void cloudReScanForeignScan(ForeignScanState *node);
static void cloudEndForeignScan(ForeignScanState *node);
static int	cloudIsForeignRelUpdatable(Relation rel);
static void cloudAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										 RangeTblEntry *target_rte, Relation target_relation);
static List *cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index);
static void cloudBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									List *fdw_private, int subplan_index, int eflags);
static TupleTableSlot *cloudExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
											  TupleTableSlot *slot, TupleTableSlot *planSlot);
static void cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo);
static void cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									  List *fdw_private, int subplan_index,
									  ExplainState *es);

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

	routine->IsForeignRelUpdatable = cloudIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = cloudAddForeignUpdateTargets;
	routine->PlanForeignModify = cloudPlanForeignModify;
	routine->BeginForeignModify = cloudBeginForeignModify;
	routine->ExecForeignUpdate = cloudExecForeignUpdate;
	routine->EndForeignModify = cloudEndForeignModify;
	routine->ExplainForeignModify = cloudExplainForeignModify;

	PG_RETURN_POINTER(routine);
}

/* ----------------------------------------------------------------
 * Planning
 * ----------------------------------------------------------------
 */

/*
 * Is clause "key = expr" with expr computable before the scan starts?  Then
 * the scan can get the one item by its key instead of listing them all.
 * The operator must be the type's own equality under a deterministic
 * collation: a case-insensitive "=" could match items a get would miss.
 */
static Expr *
key_equality_value(PlannerInfo *root, RelOptInfo *baserel, Expr *clause,
				   AttrNumber key_attnum)
{
	OpExpr	   *op;
	Node	   *left;
	Node	   *right;
	Node	   *value;
	Var		   *var;
	TypeCacheEntry *typentry;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return NULL;
	op = (OpExpr *) clause;
	left = strip_implicit_coercions(linitial(op->args));
	right = strip_implicit_coercions(lsecond(op->args));

	if (IsA(left, Var) && ((Var *) left)->varno == baserel->relid)
		var = (Var *) left, value = lsecond(op->args);
	else if (IsA(right, Var) && ((Var *) right)->varno == baserel->relid)
		var = (Var *) right, value = linitial(op->args);
	else
		return NULL;

	if (var->varattno != key_attnum || var->varlevelsup != 0)
		return NULL;
	typentry = lookup_type_cache(var->vartype, TYPECACHE_EQ_OPR);
	if (op->opno != typentry->eq_opr)
		return NULL;
	if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid))
		return NULL;
	if (contain_var_clause(value) || contain_volatile_functions(value))
		return NULL;
	return (Expr *) value;
}

static void
cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = palloc0(sizeof(CfRelInfo));
	Relation	rel;
	AttrNumber	key_attnum;
	ListCell   *lc;
	double		items;

	baserel->fdw_private = fpinfo;
	cf_get_options(foreigntableid, &fpinfo->opts);

	rel = table_open(foreigntableid, NoLock);
	key_attnum = cf_key_attnum(rel, fpinfo->opts.resource);
	table_close(rel, NoLock);

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) rinfo->clause, baserel->relid, &fpinfo->attrs_used);
		if (fpinfo->key_expr == NULL && key_attnum != InvalidAttrNumber)
			fpinfo->key_expr = key_equality_value(root, baserel, rinfo->clause,
												  key_attnum);
	}

	if (fpinfo->key_expr != NULL)
	{
		items = 1;
		fpinfo->requests = 1;
	}
	else
	{
		items = fpinfo->opts.resource->estimated_items;
		fpinfo->requests = Max(1, ceil(items / fpinfo->opts.page_size));
	}
	baserel->rows = clamp_row_est(items *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 baserel->relid, JOIN_INNER, NULL));
}

static void
cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = (CfRelInfo *) baserel->fdw_private;
	Cost		startup_cost = CF_REQUEST_COST;
	Cost		total_cost = fpinfo->requests * CF_REQUEST_COST +
		baserel->rows * cpu_tuple_cost;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup_cost, total_cost,
									 NIL, NULL, NULL, NIL));
}

/* The attribute numbers a scan must convert; a whole-row reference needs all. */
static List *
retrieved_attrs(Bitmapset *attrs_used, int natts)
{
	List	   *attrs = NIL;
	bool		wholerow = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);

	for (AttrNumber attnum = 1; attnum <= natts; attnum++)
		if (wholerow ||
			bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, attrs_used))
			attrs = lappend_int(attrs, attnum);
	return attrs;
}

static ForeignScan *
cloudGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					ForeignPath *best_path, List *tlist, List *scan_clauses,
					Plan *outer_plan)
{
	CfRelInfo  *fpinfo = (CfRelInfo *) baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *fdw_private;

	/* Every qual is checked locally: the key qual too, which costs nothing. */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	if (fpinfo->key_expr != NULL)
		fdw_exprs = list_make1(fpinfo->key_expr);

	fdw_private = list_make2(makeInteger(fpinfo->key_expr != NULL),
							 retrieved_attrs(fpinfo->attrs_used,
											 baserel->max_attr));
	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/*
 * EXPLAIN VERBOSE shows the request a scan starts with, relative to the
 * endpoint.  A constant key is shown in the path, any other as {key}.
 */
static void
cloudExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	CfOptions	opts;
	const CfResource *resource;
	char	   *request;

	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(node->ss.ss_currentRelation), &opts);
	resource = opts.resource;

	if (intVal(list_nth(plan->fdw_private, CF_SCAN_BY_KEY)))
	{
		Expr	   *key = linitial(plan->fdw_exprs);

		if (IsA(key, Const) && !((Const *) key)->constisnull)
		{
			Const	   *c = (Const *) key;
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(c->consttype, &outfunc, &isvarlena);
			request = psprintf("GET %s", cf_item_path(resource->get_path,
													  OidOutputFunctionCall(outfunc, c->constvalue)));
		}
		else
		{
			request = psprintf("GET %s", resource->get_path);
			ExplainPropertyText("Remote key", deparse_expression((Node *) key, NIL, false, false), es);
		}
	}
	else
		request = psprintf("GET %s?%s (all pages)", resource->list_path,
						   cf_first_page_query(resource, opts.page_size));
	ExplainPropertyText("Remote request", request, es);
}

/* ----------------------------------------------------------------
 * Scanning
 * ----------------------------------------------------------------
 */

/* The user whose mapping a scan or update uses: the view owner, if any. */
static UserMapping *
user_mapping_for(EState *estate, Index rtindex, Oid serverid)
{
	RangeTblEntry *rte = exec_rt_fetch(rtindex, estate);
	Oid			userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();

	return GetUserMapping(userid, serverid);
}

static void
cloudBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	CfScanState *state;
	UserMapping *user;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	/* Plain EXPLAIN makes no request and needs no credentials. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfScanState));
	node->fdw_state = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	user = user_mapping_for(estate, plan->scan.scanrelid, state->opts.serverid);
	cf_get_credentials(user, &state->opts, &state->creds);
	state->conn = cf_get_connection(user);

	foreach(lc, (List *) list_nth(plan->fdw_private, CF_SCAN_ATTRS))
		attrs = bms_add_member(attrs, lfirst_int(lc));
	state->maps = cf_column_maps(rel, state->opts.resource, attrs);

	state->by_key = intVal(list_nth(plan->fdw_private, CF_SCAN_BY_KEY));
	if (state->by_key)
		state->key_state = ExecInitExpr(linitial(plan->fdw_exprs), (PlanState *) node);

	state->scancxt = CurrentMemoryContext;
	state->pagecxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw page",
										   ALLOCSET_DEFAULT_SIZES);
}

/* The key value of a by-key scan; NULL when no item can match. */
static char *
evaluate_key(ForeignScanState *node, CfScanState *state)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	Oid			keytype = exprType((Node *) state->key_state->expr);
	Datum		value;
	bool		isnull;
	Oid			outfunc;
	bool		isvarlena;
	char	   *key;

	value = ExecEvalExpr(state->key_state, econtext, &isnull);
	if (isnull)
		return NULL;
	getTypeOutputInfo(keytype, &outfunc, &isvarlena);
	key = OidOutputFunctionCall(outfunc, value);
	return cf_key_is_addressable(key) ? MemoryContextStrdup(state->scancxt, key) : NULL;
}

/* Fetch the next page (or the one item) into the page context. */
static void
fetch_page(CfScanState *state, const char *path)
{
	const CfResource *resource = state->opts.resource;
	MemoryContext oldcxt;
	ErrorContextCallback errcallback;
	CfHttpRequest req = {
		.method = "GET",
		.endpoint = state->opts.endpoint,
		.path = path,
		.creds = &state->creds,
		.opts = &state->opts,
	};
	CfHttpResponse resp;
	CfJson	   *page;

	MemoryContextReset(state->pagecxt);
	oldcxt = MemoryContextSwitchTo(state->pagecxt);
	cf_push_request_context(&errcallback, &req);

	cf_send_request(state->conn, &req, &resp);
	state->next_item = 0;
	state->nitems = 0;
	if (state->by_key && resp.status == 404)
		state->done = true;		/* no such item: no row */
	else
	{
		if (resp.status < 200 || resp.status > 299)
			cf_report_http_error(&req, &resp);
		page = cfj_parse(resp.body, resp.body_len, state->pagecxt);
		if (state->by_key)
		{
			CfJson	   *item = resource->get_item_path
				? cfj_get(page, resource->get_item_path) : page;

			if (cfj_type(item) != CFJ_OBJECT)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("get response holds no item object")));
			state->items = cfj_new_array(state->pagecxt);
			cfj_array_append(state->items, item);
			state->done = true;
		}
		else
		{
			state->items = cf_page_items(resource, page);
			MemoryContextSwitchTo(state->scancxt);
			cf_advance_cursor(resource, state->opts.page_size, page,
							  cfj_array_length(state->items), &state->cursor);
			state->done = (state->cursor.next_query == NULL);
		}
		state->nitems = cfj_array_length(state->items);
	}

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
}

static TupleTableSlot *
cloudIterateForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	const CfResource *resource = state->opts.resource;

	if (!state->started)
	{
		state->started = true;
		if (state->by_key)
		{
			char	   *key = evaluate_key(node, state);

			if (key == NULL)
				state->done = true;
			else
				fetch_page(state, cf_item_path(resource->get_path, key));
		}
		else
			fetch_page(state, psprintf("%s?%s", resource->list_path,
									   cf_first_page_query(resource, state->opts.page_size)));
	}

	for (;;)
	{
		if (state->next_item < state->nitems)
		{
			ExprContext *econtext = node->ss.ps.ps_ExprContext;
			MemoryContext oldcxt;

			MemoryContextReset(econtext->ecxt_per_tuple_memory);
			oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
			cf_store_item(state->maps, cfj_array_get(state->items, state->next_item++), slot);
			MemoryContextSwitchTo(oldcxt);
			return slot;
		}
		if (state->done)
			return ExecClearTuple(slot);
		fetch_page(state, psprintf("%s?%s", resource->list_path, state->cursor.next_query));
	}
}

static void
cloudReScanForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	state->started = false;
	state->done = false;
	state->nitems = 0;
	state->next_item = 0;
	state->cursor.next_query = NULL;
	list_free_deep(state->cursor.seen);
	state->cursor.seen = NIL;
}

static void
cloudEndForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	/* The page context belongs to the query; release the page early anyway. */
	if (state != NULL)
		MemoryContextDelete(state->pagecxt);
}

/* ----------------------------------------------------------------
 * Updating
 * ----------------------------------------------------------------
 */
static int
cloudIsForeignRelUpdatable(Relation rel)
{
	const CfResource *resource = cf_table_resource(RelationGetRelid(rel));

	return (resource != NULL && resource->update_method != NULL) ? (1 << CMD_UPDATE) : 0;
}

/* UPDATE finds the remote item by its key, carried as a junk column. */
static void
cloudAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							 RangeTblEntry *target_rte, Relation target_relation)
{
	CfOptions	opts;
	AttrNumber	attnum;
	Form_pg_attribute att;
	Var		   *var;

	cf_get_options(RelationGetRelid(target_relation), &opts);
	attnum = cf_key_attnum(target_relation, opts.resource);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for the key of resource \"%s\"",
						RelationGetRelationName(target_relation), opts.resource->name),
				 errhint("Add a column mapped to JSON path \"%s\" to update this table.",
						 cf_key_column(opts.resource)->path)));

	att = TupleDescAttr(RelationGetDescr(target_relation), attnum - 1);
	var = makeVar(rtindex, attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
	add_row_identity_var(root, var, rtindex, CF_KEY_JUNK_NAME);
}

static int
path_depth(const char *path)
{
	int			depth = 0;

	for (; *path; path++)
		depth += (*path == '.');
	return depth;
}

/*
 * Check at plan time that every SET column is a field the API lets us
 * change, and order them so that shallower JSON paths are written first.
 */
static List *
cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	CfOptions	opts;
	List	   *target_attrs = NIL;
	Bitmapset  *updated;
	int			col = -1;

	if (plan->operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						plan->operation == CMD_INSERT ? "insert into" : "delete from",
						get_rel_name(rte->relid)),
				 errdetail("cloud_fdw only updates existing cloud resources.")));

	cf_get_options(rte->relid, &opts);
	if (opts.resource->update_method == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", get_rel_name(rte->relid)),
				 errdetail("The cloud API offers no update call for resource \"%s\".",
						   opts.resource->name)));

	updated = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
	while ((col = bms_next_member(updated, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		const char *path;
		const CfColumn *governing;
		ListCell   *lc;
		int			pos = 0;

		if (attnum <= InvalidAttrNumber)
			elog(ERROR, "system-column update is not supported");
		path = cf_column_path(rte->relid, attnum);
		governing = cf_governing_column(opts.resource, path);
		if (governing == NULL || !(governing->flags & CF_COL_UPDATABLE))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							get_attname(rte->relid, attnum, false), get_rel_name(rte->relid)),
					 governing == NULL
					 ? errdetail("JSON path \"%s\" is not a field resource \"%s\" is known to accept in an update.",
								 path, opts.resource->name)
					 : errdetail("The cloud API treats \"%s\" of resource \"%s\" as read-only.",
								 governing->path, opts.resource->name)));

		foreach(lc, target_attrs)
		{
			if (path_depth(cf_column_path(rte->relid, lfirst_int(lc))) > path_depth(path))
				break;
			pos++;
		}
		target_attrs = list_insert_nth_int(target_attrs, pos, attnum);
	}
	return list_make1(target_attrs);
}

static void
cloudBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	Relation	rel = rinfo->ri_RelationDesc;
	Plan	   *subplan = outerPlanState(mtstate)->plan;
	CfModifyState *state;
	UserMapping *user;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfModifyState));
	rinfo->ri_FdwState = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	user = user_mapping_for(estate, rinfo->ri_RangeTableIndex, state->opts.serverid);
	cf_get_credentials(user, &state->opts, &state->creds);
	state->conn = cf_get_connection(user);
	state->maps = cf_column_maps(rel, state->opts.resource, NULL);
	state->target_attrs = (List *) linitial(fdw_private);

	state->key_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_KEY_JUNK_NAME);
	state->wholerow_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	if (!AttributeNumberIsValid(state->key_attno) ||
		!AttributeNumberIsValid(state->wholerow_attno))
		elog(ERROR, "could not find the junk columns of an UPDATE");

	state->rowcxt = AllocSetContextCreate(estate->es_query_cxt,
										  "cloud_fdw update row",
										  ALLOCSET_DEFAULT_SIZES);
}

/*
 * A failed update aborts the transaction, but rows already sent stay
 * changed: the cloud API is not transactional.  Say so.
 */
static void
update_context(void *arg)
{
	CfModifyState *state = (CfModifyState *) arg;

	if (state->applied == 0)
		errcontext("updating item \"%s\" of resource \"%s\"",
				   state->current_key, state->opts.resource->name);
	else
		errcontext("updating item \"%s\" of resource \"%s\"; rows of this statement "
				   "already changed remotely, which stay changed: " INT64_FORMAT,
				   state->current_key, state->opts.resource->name, state->applied);
}

static TupleTableSlot *
cloudExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;
	const CfResource *resource = state->opts.resource;
	TupleDesc	tupdesc = RelationGetDescr(rinfo->ri_RelationDesc);
	MemoryContext oldcxt;
	Datum		datum;
	bool		isnull;
	HeapTupleData oldtuple;
	Datum	   *oldvalues;
	bool	   *oldnulls;
	CfJson	   *body;
	ErrorContextCallback update_errcallback;
	ErrorContextCallback request_errcallback;
	CfHttpRequest req;
	CfHttpResponse resp;
	CfJson	   *answer;
	CfJson	   *item;
	Oid			outfunc;
	bool		isvarlena;

	MemoryContextReset(state->rowcxt);
	oldcxt = MemoryContextSwitchTo(state->rowcxt);

	datum = ExecGetJunkAttribute(planSlot, state->key_attno, &isnull);
	if (isnull)
		elog(ERROR, "key of the row to update is null");
	getTypeOutputInfo(TupleDescAttr(tupdesc, state->key_attno - 1)->atttypid,
					  &outfunc, &isvarlena);
	state->current_key = OidOutputFunctionCall(outfunc, datum);

	datum = ExecGetJunkAttribute(planSlot, state->wholerow_attno, &isnull);
	if (isnull)
		elog(ERROR, "old row of the row to update is null");
	oldtuple.t_data = DatumGetHeapTupleHeader(datum);
	oldtuple.t_len = HeapTupleHeaderGetDatumLength(oldtuple.t_data);
	oldvalues = palloc(sizeof(Datum) * tupdesc->natts);
	oldnulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(&oldtuple, tupdesc, oldvalues, oldnulls);
	slot_getallattrs(slot);

	body = cf_build_update_body(resource, state->maps, state->target_attrs,
								tupdesc->natts, oldvalues, oldnulls,
								slot->tts_values, slot->tts_isnull, state->rowcxt);
	if (body == NULL)
	{
		/* nothing changed: nothing to send, and the row stays as it is */
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}

	update_errcallback.callback = update_context;
	update_errcallback.arg = state;
	update_errcallback.previous = error_context_stack;
	error_context_stack = &update_errcallback;

	memset(&req, 0, sizeof(req));
	req.method = resource->update_method;
	req.endpoint = state->opts.endpoint;
	req.path = cf_item_path(resource->update_path, state->current_key);
	req.body = cfj_serialize(body);
	req.creds = &state->creds;
	req.opts = &state->opts;
	cf_push_request_context(&request_errcallback, &req);

	cf_send_request(state->conn, &req, &resp);
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(&req, &resp);
	state->applied++;

	answer = cfj_parse(resp.body, resp.body_len, state->rowcxt);
	item = resource->update_item_path ? cfj_get(answer, resource->update_item_path) : answer;
	if (cfj_type(item) != CFJ_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("update response holds no item object")));
	cf_store_item(state->maps, item, slot);

	error_context_stack = update_errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

static void
cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;

	if (state != NULL)
		MemoryContextDelete(state->rowcxt);
}

static void
cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	CfOptions	opts;

	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(rinfo->ri_RelationDesc), &opts);
	ExplainPropertyText("Remote request",
						psprintf("%s %s (changed columns of each row)",
								 opts.resource->update_method, opts.resource->update_path),
						es);
}

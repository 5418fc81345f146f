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
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
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
 * Planner cost units per millisecond of waiting for a cloud API: a
 * sequential page read (1.0) takes about a tenth of a millisecond.
 */
#define CF_COST_PER_MS 10.0

/* Executions of at most this many rows are kept to replay on rescans. */
#define CF_REPLAY_MAX_ITEMS 1000

/* Keys of rows changed remotely that an error names, at most. */
#define CF_APPLIED_KEYS_SHOWN 10

/* Name of the row identity column UPDATE carries to find the remote item. */
#define CF_KEY_JUNK_NAME "cloud_fdw_key"

/* A qual that gives a call parameter its value: field = value, or IN. */
typedef struct CfKeyQual
{
	const char *field;
	Expr	   *value;			/* a scalar, or an array for "= ANY" */
	bool		is_array;
	RestrictInfo *rinfo;
} CfKeyQual;

/* Planner state of a foreign table. */
typedef struct CfRelInfo
{
	CfOptions	opts;
	char	  **paths;			/* JSON path of each column, by attnum - 1 */
	int			natts;
	Bitmapset  *attrs_used;		/* attribute numbers the query reads */
} CfRelInfo;

/* Indexes into a ForeignScan's fdw_private. */
enum CfScanPrivate
{
	CF_SCAN_IS_GET,				/* Integer: get call (1) or list call (0) */
	CF_SCAN_ATTRS,				/* IntList of attribute numbers to convert */
	CF_SCAN_FIELDS,				/* List of String: field of each fdw_expr */
	CF_SCAN_ARRAYS,				/* IntList: whether each fdw_expr is an array */
	CF_SCAN_LIMIT				/* Integer: rows the query needs at most, or 0 */
};

/* A call parameter's value source during execution. */
typedef struct CfScanKey
{
	const char *field;
	ExprState  *expr;
	bool		is_array;
	Oid			type;			/* of the value, or of its elements */
	List	   *values;			/* text values for this execution */
} CfScanKey;

/* What a scan did, for EXPLAIN ANALYZE. */
typedef struct CfScanStats
{
	int64		requests;
	int64		pages;
	int64		bytes;
	int64		replays;		/* executions served from the replay cache */
	int64		retries;
	instr_time	http_time;		/* waiting for responses */
} CfScanStats;

typedef struct CfScanState
{
	CfOptions	opts;
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	const CfCall *call;
	bool		is_get;
	CfScanKey  *keys;
	int			nkeys;
	MemoryContext execcxt;		/* one execution (reset on rescan) */
	MemoryContext pagecxt;		/* one fetched page, reset per page */
	CfParamValue *values;		/* the current combination of key values */
	int			ncombos;		/* combinations of key values to request */
	int			combo;
	char	   *call_request;	/* of the current combination */
	CfJson	   *items;			/* the current page's items */
	int		   *item_combos;	/* a get batch: each item's combination */
	int			nitems;
	int			next_item;
	bool		started;
	bool		pages_done;		/* no page left for this combination */
	CfPageCursor cursor;

	/*
	 * The rows of the last execution, kept while they are few, so that a
	 * rescan with the same key values (the inner side of a nested loop)
	 * replays them instead of asking again.
	 */
	MemoryContext replaycxt;
	List	   *replay_keys;	/* key values of the recorded execution */
	CfJson	   *replay_items;
	int		   *replay_combos;
	int			nreplay;
	bool		recording;		/* this execution is being recorded */
	bool		replay_complete;	/* the recording holds a whole execution */
	bool		replaying;

	CfScanStats stats;
} CfScanState;

typedef struct CfModifyState
{
	CfOptions	opts;
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	List	   *target_attrs;	/* updated columns, shallow JSON paths first */
	List	   *param_attrs;	/* columns whose old value fills call parameters */
	AttrNumber	key_attno;		/* junk attribute with the item's key */
	AttrNumber	key_column;		/* the table's column of the key */
	AttrNumber	wholerow_attno; /* junk attribute with the old row */
	MemoryContext rowcxt;		/* reset per row */
	int64		applied;		/* rows this statement changed remotely */
	List	   *applied_keys;	/* the first CF_APPLIED_KEYS_SHOWN of them */
	MemoryContext stmtcxt;		/* lives as long as the statement */
	int64		requests;
	const char *current_key;

	/*
	 * Without RETURNING or triggers nobody looks at the rows the API sends
	 * back, so update calls need not be waited for one by one: up to
	 * "concurrency" of them are on their way at once.
	 */
	bool		async;
	struct CfPendingWrite *pending;
	int			npending;
} CfModifyState;

/* An update call on its way, with what it needs until it is finished. */
typedef struct CfPendingWrite
{
	int			slot;
	MemoryContext cxt;
	CfHttpRequest req;
	char	   *key;
} CfPendingWrite;

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

	routine->ImportForeignSchema = cf_import_foreign_schema;

	PG_RETURN_POINTER(routine);
}

/* ----------------------------------------------------------------
 * Planning
 * ----------------------------------------------------------------
 */

/* Whether the call's parameter for a field matches loosely (EPS "name"). */
static bool
param_is_fuzzy(const CfCall *call, const char *field)
{
	for (int i = 0; i < call->nparams; i++)
		if (strcmp(call->params[i].field, field) == 0)
			return call->params[i].fuzzy;
	return false;
}

/* Whether any call of the resource takes a parameter for this field. */
static bool
is_param_field(const CfResource *resource, const char *field)
{
	const CfCall *calls[] = {resource->list, resource->get};

	for (int c = 0; c < lengthof(calls); c++)
		for (int i = 0; i < calls[c]->nparams; i++)
			if (strcmp(calls[c]->params[i].field, field) == 0)
				return true;
	return false;
}

/*
 * Is clause "column = value" or "column = ANY(array)" on a call-parameter
 * field, with a value computable before the scan (or per outer row, from
 * the relations in "outer")?  The operator must be the type's own equality
 * under a deterministic collation: a case-insensitive "=" could match items
 * that a request for the exact value would miss.
 */
static bool
match_key_qual(RelOptInfo *baserel, CfRelInfo *fpinfo, Expr *clause,
			   Relids outer, CfKeyQual *qual)
{
	List	   *args;
	Oid			opno;
	Oid			inputcollid;
	Node	   *left;
	Node	   *right;
	Node	   *value;
	Var		   *var;
	Relids		value_relids;
	TypeCacheEntry *typentry;

	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		args = ((OpExpr *) clause)->args;
		opno = ((OpExpr *) clause)->opno;
		inputcollid = ((OpExpr *) clause)->inputcollid;
		qual->is_array = false;
	}
	else if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr)
	{
		args = ((ScalarArrayOpExpr *) clause)->args;
		opno = ((ScalarArrayOpExpr *) clause)->opno;
		inputcollid = ((ScalarArrayOpExpr *) clause)->inputcollid;
		qual->is_array = true;
	}
	else
		return false;

	left = strip_implicit_coercions(linitial(args));
	right = strip_implicit_coercions(lsecond(args));
	if (IsA(left, Var) && ((Var *) left)->varno == baserel->relid)
		var = (Var *) left, value = lsecond(args);
	else if (!qual->is_array && IsA(right, Var) && ((Var *) right)->varno == baserel->relid)
		var = (Var *) right, value = linitial(args);
	else
		return false;

	if (var->varattno < 1 || var->varattno > fpinfo->natts || var->varlevelsup != 0 ||
		fpinfo->paths[var->varattno - 1] == NULL ||
		!is_param_field(fpinfo->opts.resource, fpinfo->paths[var->varattno - 1]))
		return false;
	typentry = lookup_type_cache(var->vartype, TYPECACHE_EQ_OPR);
	if (opno != typentry->eq_opr)
		return false;
	if (OidIsValid(inputcollid) && !get_collation_isdeterministic(inputcollid))
		return false;
	if (contain_volatile_functions(value))
		return false;
	value_relids = pull_varnos(NULL, value);
	if (!bms_is_subset(value_relids, outer) || bms_is_member(baserel->relid, value_relids))
		return false;

	qual->field = fpinfo->paths[var->varattno - 1];
	qual->value = (Expr *) value;
	return true;
}

/* The key quals among a list of RestrictInfos. */
static List *
key_quals(RelOptInfo *baserel, CfRelInfo *fpinfo, List *rinfos, Relids outer)
{
	List	   *quals = NIL;
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		CfKeyQual  *qual = palloc0(sizeof(CfKeyQual));

		if (match_key_qual(baserel, fpinfo, rinfo->clause, outer, qual))
		{
			qual->rinfo = rinfo;
			quals = lappend(quals, qual);
		}
	}
	return quals;
}

/*
 * Can the call be made with these quals?  Then *used gets the quals it
 * takes, one per parameter, scalars preferred.  A list of values (IN) goes
 * only to parameters that identify things exactly: path parameters and
 * required ones, never to optional filters such as a fuzzy "name".
 */
static bool
call_possible(const CfCall *call, List *quals, const CfOptions *opts, List **used)
{
	*used = NIL;
	for (int i = 0; i < call->nparams; i++)
	{
		const CfCallParam *param = &call->params[i];
		bool		arrays_ok = (param->in == CF_IN_PATH || param->required);
		CfKeyQual  *best = NULL;
		ListCell   *lc;

		foreach(lc, quals)
		{
			CfKeyQual  *qual = (CfKeyQual *) lfirst(lc);

			if (strcmp(qual->field, param->field) != 0 || (qual->is_array && !arrays_ok))
				continue;
			if (best == NULL || (best->is_array && !qual->is_array))
				best = qual;
		}
		if (best != NULL)
			*used = lappend(*used, best);
		else if (param->required &&
				 (param->table_option == NULL || cf_param_option(opts, param->table_option) == NULL))
			return false;
	}
	return true;
}

/* The get call when the quals name whole items, else the list call, or NULL. */
static const CfCall *
choose_call(const CfResource *resource, List *quals, const CfOptions *opts, List **used)
{
	if (call_possible(resource->get, quals, opts, used))
		return resource->get;
	if (call_possible(resource->list, quals, opts, used))
		return resource->list;
	return NULL;
}

/* How many values a key qual is likely to give. */
static double
key_values_estimate(CfKeyQual *qual)
{
	if (!qual->is_array)
		return 1;
	if (IsA(qual->value, Const) && !((Const *) qual->value)->constisnull)
		return Max(1, ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) qual->value)->constvalue)),
									 ARR_DIMS(DatumGetArrayTypeP(((Const *) qual->value)->constvalue))));
	return 10;
}

/* Rows and cost of one execution of a scan that makes this call. */
static void
estimate_scan(PlannerInfo *root, RelOptInfo *baserel, CfRelInfo *fpinfo,
			  const CfCall *call, List *used, List *all_rinfos,
			  double *rows, Cost *startup_cost, Cost *total_cost)
{
	const CfResource *resource = fpinfo->opts.resource;
	double		request_cost = fpinfo->opts.request_latency_ms * CF_COST_PER_MS;
	double		combos = 1;
	double		rounds;
	double		items;
	List	   *other = NIL;
	ListCell   *lc;

	foreach(lc, used)
		combos *= key_values_estimate((CfKeyQual *) lfirst(lc));
	foreach(lc, all_rinfos)
	{
		bool		is_key = false;
		ListCell   *lu;

		foreach(lu, used)
			if (((CfKeyQual *) lfirst(lu))->rinfo == lfirst(lc))
				is_key = true;
		if (!is_key)
			other = lappend(other, lfirst(lc));
	}

	if (call == resource->get)
	{
		/* one get per key value, up to "concurrency" at a time */
		items = combos;
		rounds = ceil(combos / fpinfo->opts.concurrency);
	}
	else
	{
		/* a listing per key value, its pages one after the other */
		items = combos * fpinfo->opts.estimated_items;
		rounds = combos * Max(1, ceil(fpinfo->opts.estimated_items / fpinfo->opts.page_size));
	}
	*rows = clamp_row_est(items * clauselist_selectivity(root, other, baserel->relid,
														 JOIN_INNER, NULL));
	*startup_cost = request_cost;
	*total_cost = rounds * request_cost + items * cpu_tuple_cost;
}

static void
cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = palloc0(sizeof(CfRelInfo));
	Relation	rel;
	TupleDesc	tupdesc;
	ListCell   *lc;
	List	   *used;
	const CfCall *call;
	Cost		startup_cost;
	Cost		total_cost;

	baserel->fdw_private = fpinfo;
	cf_get_options(foreigntableid, &fpinfo->opts);

	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	fpinfo->natts = tupdesc->natts;
	fpinfo->paths = palloc0(sizeof(char *) * tupdesc->natts);
	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped)
			fpinfo->paths[i] = cf_column_path(foreigntableid, i + 1);
	table_close(rel, NoLock);

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause, baserel->relid,
					   &fpinfo->attrs_used);

	call = choose_call(fpinfo->opts.resource,
					   key_quals(baserel, fpinfo, baserel->baserestrictinfo, NULL),
					   &fpinfo->opts, &used);
	if (call != NULL)
		estimate_scan(root, baserel, fpinfo, call, used, baserel->baserestrictinfo,
					  &baserel->rows, &startup_cost, &total_cost);
	else
		baserel->rows = clamp_row_est(fpinfo->opts.estimated_items);
}

/* Callback of generate_implied_equalities_for_column: is em our column? */
static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	Var		   *var = (Var *) em->em_expr;

	return IsA(var, Var) && var->varno == rel->relid && var->varlevelsup == 0 &&
		var->varattno == *(AttrNumber *) arg;
}

/*
 * Join clauses that could give a call parameter its value from the outer
 * side of a nested loop: "e.application_id = a.id" makes one request per
 * application instead of needing a constant.
 */
static List *
join_key_clauses(PlannerInfo *root, RelOptInfo *baserel, CfRelInfo *fpinfo)
{
	List	   *clauses = NIL;
	ListCell   *lc;

	for (AttrNumber attnum = 1; attnum <= fpinfo->natts; attnum++)
		if (fpinfo->paths[attnum - 1] != NULL &&
			is_param_field(fpinfo->opts.resource, fpinfo->paths[attnum - 1]))
			clauses = list_concat(clauses,
								  generate_implied_equalities_for_column(root, baserel,
																		 ec_member_is_column,
																		 &attnum,
																		 baserel->lateral_referencers));
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(rinfo, baserel))
			clauses = lappend(clauses, rinfo);
	}
	return clauses;
}

/* No call can be made: say which values the query must give. */
static void
report_missing_keys(CfRelInfo *fpinfo, Oid foreigntableid)
{
	const CfResource *resource = fpinfo->opts.resource;
	const CfCall *list = resource->list;
	StringInfoData needed;
	const char *first = NULL;
	const char *option = NULL;

	initStringInfo(&needed);
	for (int i = 0; i < list->nparams; i++)
	{
		const CfCallParam *param = &list->params[i];

		if (!param->required ||
			(param->table_option != NULL && cf_param_option(&fpinfo->opts, param->table_option) != NULL))
			continue;
		appendStringInfo(&needed, "%s\"%s\"", needed.len > 0 ? " and " : "", param->field);
		if (first == NULL)
			first = param->field;
		if (option == NULL)
			option = param->table_option;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("foreign table \"%s\" needs a value for %s",
					get_rel_name(foreigntableid), needed.data),
			 errdetail("The cloud API lists resource \"%s\" only for a given %s.",
					   resource->name, needed.data),
			 option != NULL
			 ? errhint("Add a condition such as WHERE %s = '...' (or IN, or a join on it); table option \"%s\" can give a fixed value.",
					   first, option)
			 : errhint("Add a condition such as WHERE %s = '...' (or IN, or a join on it).", first)));
}

static void
cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = (CfRelInfo *) baserel->fdw_private;
	const CfResource *resource = fpinfo->opts.resource;
	List	   *quals = key_quals(baserel, fpinfo, baserel->baserestrictinfo, NULL);
	List	   *used;
	List	   *outers_done = NIL;
	const CfCall *call = choose_call(resource, quals, &fpinfo->opts, &used);
	double		rows;
	Cost		startup_cost;
	Cost		total_cost;
	ListCell   *lc;
	bool		have_path = false;

	if (call != NULL)
	{
		estimate_scan(root, baserel, fpinfo, call, used, baserel->baserestrictinfo,
					  &rows, &startup_cost, &total_cost);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, rows, startup_cost,
										 total_cost, NIL, NULL, NULL, NIL));
		have_path = true;
	}

	/* Parameterized paths: a get (or a list) per row of an outer relation. */
	foreach(lc, join_key_clauses(root, baserel, fpinfo))
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;
		List	   *rinfos;
		CfKeyQual	probe;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer) ||
			!match_key_qual(baserel, fpinfo, rinfo->clause, required_outer, &probe) ||
			list_member(outers_done, required_outer))
			continue;
		outers_done = lappend(outers_done, required_outer);

		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		rinfos = list_concat_copy(baserel->baserestrictinfo, ppi->ppi_clauses);
		call = choose_call(resource, key_quals(baserel, fpinfo, rinfos, required_outer),
						   &fpinfo->opts, &used);
		if (call == NULL)
			continue;
		estimate_scan(root, baserel, fpinfo, call, used, rinfos,
					  &rows, &startup_cost, &total_cost);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, ppi->ppi_rows,
										 startup_cost, total_cost, NIL,
										 required_outer, NULL, NIL));
		have_path = true;
	}

	if (!have_path)
		report_missing_keys(fpinfo, foreigntableid);
}

/*
 * The rows a listing must deliver at most, when the query's LIMIT says so
 * for sure: one relation, nothing between the scan and the LIMIT that
 * needs more rows (sorting, grouping, aggregates...), and every qual applied
 * exactly by the API, so that no local check drops rows.  0: unknown.
 */
static int
safe_limit(PlannerInfo *root, const CfCall *call, List *used, List *rinfos)
{
	Query	   *parse = root->parse;
	ListCell   *lc;

	if (root->limit_tuples <= 0 || root->limit_tuples > INT_MAX ||
		parse->commandType != CMD_SELECT ||
		bms_membership(root->all_baserels) != BMS_SINGLETON ||
		parse->sortClause != NIL || parse->setOperations != NULL ||
		parse->rowMarks != NIL)
		return 0;
	foreach(lc, rinfos)
	{
		bool		exact = false;
		ListCell   *lu;

		foreach(lu, used)
		{
			CfKeyQual  *qual = (CfKeyQual *) lfirst(lu);

			if (qual->rinfo == lfirst(lc) && !param_is_fuzzy(call, qual->field))
				exact = true;
		}
		if (!exact)
			return 0;
	}
	return (int) root->limit_tuples;
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
	Relids		outer = PATH_REQ_OUTER(&best_path->path);
	List	   *used;
	const CfCall *call;
	List	   *fdw_exprs = NIL;
	List	   *fields = NIL;
	List	   *arrays = NIL;
	int			limit;
	ListCell   *lc;

	call = choose_call(fpinfo->opts.resource,
					   key_quals(baserel, fpinfo, scan_clauses, outer),
					   &fpinfo->opts, &used);
	if (call == NULL)
		elog(ERROR, "no call of resource \"%s\" fits the chosen path",
			 fpinfo->opts.resource->name);
	foreach(lc, used)
	{
		CfKeyQual  *qual = (CfKeyQual *) lfirst(lc);

		fdw_exprs = lappend(fdw_exprs, qual->value);
		fields = lappend(fields, makeString(pstrdup(qual->field)));
		arrays = lappend_int(arrays, qual->is_array);
	}

	limit = safe_limit(root, call, used, scan_clauses);

	/* Every qual is checked locally too, the key quals included: cheap. */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							list_make5(makeInteger(call == fpinfo->opts.resource->get),
									   retrieved_attrs(fpinfo->attrs_used, fpinfo->natts),
									   fields, arrays, makeInteger(limit)),
							NIL, NIL, outer_plan);
}

/* A LIMIT smaller than a page asks for a smaller page. */
static void
apply_limit(CfOptions *opts, int limit)
{
	if (limit > 0 && limit < opts->page_size)
		opts->page_size = limit;
}

/*
 * EXPLAIN VERBOSE shows the request a scan starts with, relative to the
 * endpoint: constant keys in place, others as {field}, listed under
 * "Remote keys".
 */
static void
cloudExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	CfOptions	opts;
	bool		is_get = intVal(list_nth(plan->fdw_private, CF_SCAN_IS_GET));
	List	   *fields = (List *) list_nth(plan->fdw_private, CF_SCAN_FIELDS);
	List	   *arrays = (List *) list_nth(plan->fdw_private, CF_SCAN_ARRAYS);
	CfParamValue *values = palloc0(sizeof(CfParamValue) * Max(1, list_length(fields)));
	int			nvalues = 0;
	StringInfoData keys;
	char	   *request;

	if (es->analyze && node->fdw_state != NULL)
	{
		CfScanState *state = (CfScanState *) node->fdw_state;

		ExplainPropertyInteger("Remote requests", NULL, state->stats.requests, es);
		if (!state->is_get)
			ExplainPropertyInteger("Remote pages", NULL, state->stats.pages, es);
		ExplainPropertyInteger("Remote bytes", NULL, state->stats.bytes, es);
		if (state->stats.retries > 0)
			ExplainPropertyInteger("Remote retries", NULL, state->stats.retries, es);
		if (state->stats.replays > 0)
			ExplainPropertyInteger("Remote replays", NULL, state->stats.replays, es);
		if (es->timing)
			ExplainPropertyFloat("Remote time", "ms",
								 INSTR_TIME_GET_MILLISEC(state->stats.http_time), 3, es);
	}
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(node->ss.ss_currentRelation), &opts);
	apply_limit(&opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));

	/*
	 * Key values that are not constants are deparsed in the context EXPLAIN
	 * set up for this node when it showed the Filter, which always holds the
	 * key quals: they are rechecked locally.
	 */
	Assert(fields == NIL || plan->scan.plan.qual != NIL);
	initStringInfo(&keys);
	for (int i = 0; i < list_length(fields); i++)
	{
		Expr	   *expr = list_nth(plan->fdw_exprs, i);
		const char *field = strVal(list_nth(fields, i));

		if (!list_nth_int(arrays, i) && IsA(expr, Const) && !((Const *) expr)->constisnull)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(((Const *) expr)->consttype, &outfunc, &isvarlena);
			values[nvalues].field = field;
			values[nvalues++].value = OidOutputFunctionCall(outfunc, ((Const *) expr)->constvalue);
		}
		else
			appendStringInfo(&keys, "%s%s %s %s", keys.len > 0 ? ", " : "", field,
							 list_nth_int(arrays, i) ? "IN" : "=",
							 deparse_expression((Node *) expr, es->deparse_cxt, true, false));
	}

	request = cf_call_request(is_get ? opts.resource->get : opts.resource->list,
							  values, nvalues, &opts, true);
	if (!is_get)
		request = psprintf("%s%c%s (all pages)", request, strchr(request, '?') ? '&' : '?',
						   cf_first_page_query(opts.resource, opts.page_size));
	ExplainPropertyText("Remote request", psprintf("GET %s", request), es);
	if (keys.len > 0)
		ExplainPropertyText("Remote keys", keys.data, es);
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
	List	   *fields;
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

	state->is_get = intVal(list_nth(plan->fdw_private, CF_SCAN_IS_GET));
	apply_limit(&state->opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));
	state->call = state->is_get ? state->opts.resource->get : state->opts.resource->list;
	fields = (List *) list_nth(plan->fdw_private, CF_SCAN_FIELDS);
	state->nkeys = list_length(fields);
	state->keys = palloc0(sizeof(CfScanKey) * Max(1, state->nkeys));
	state->values = palloc0(sizeof(CfParamValue) * Max(1, state->nkeys));
	for (int i = 0; i < state->nkeys; i++)
	{
		CfScanKey  *key = &state->keys[i];
		Expr	   *expr = list_nth(plan->fdw_exprs, i);

		key->field = strVal(list_nth(fields, i));
		key->is_array = list_nth_int((List *) list_nth(plan->fdw_private, CF_SCAN_ARRAYS), i);
		key->type = key->is_array ? get_element_type(exprType((Node *) expr)) : exprType((Node *) expr);
		key->expr = ExecInitExpr(expr, (PlanState *) node);
		state->values[i].field = key->field;
	}

	state->execcxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw execution",
										   ALLOCSET_SMALL_SIZES);
	state->pagecxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw page",
										   ALLOCSET_DEFAULT_SIZES);
	state->replaycxt = AllocSetContextCreate(estate->es_query_cxt,
											 "cloud_fdw replay",
											 ALLOCSET_DEFAULT_SIZES);
	INSTR_TIME_SET_ZERO(state->stats.http_time);
}

static int
compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp((char *) lfirst(a), (char *) lfirst(b));
}

/*
 * The distinct text values of a key for this execution.  NULLs match
 * nothing; a path parameter cannot be empty, "." or "..", which would
 * address the collection or its parent instead of an item.
 */
static List *
evaluate_key(ForeignScanState *node, CfScanState *state, CfScanKey *key, bool in_path)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	Datum		value;
	bool		isnull;
	Oid			outfunc;
	bool		isvarlena;
	List	   *values = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	value = ExecEvalExpr(key->expr, econtext, &isnull);
	if (isnull)
		return NIL;
	getTypeOutputInfo(key->type, &outfunc, &isvarlena);
	if (!key->is_array)
	{
		elems = &value;
		nulls = &isnull;
		nelems = 1;
	}
	else
	{
		get_typlenbyvalalign(key->type, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(value), key->type, typlen, typbyval,
						  typalign, &elems, &nulls, &nelems);
	}

	for (int i = 0; i < nelems; i++)
	{
		char	   *text;

		if (nulls[i])
			continue;
		text = OidOutputFunctionCall(outfunc, elems[i]);
		if (!in_path || cf_key_is_addressable(text))
			values = lappend(values, text);
	}
	list_sort(values, compare_strings);
	for (int i = list_length(values) - 1; i > 0; i--)
		if (strcmp(list_nth(values, i), list_nth(values, i - 1)) == 0)
			values = list_delete_nth_cell(values, i);
	return values;
}

static bool
key_in_path(const CfCall *call, const char *field)
{
	for (int i = 0; i < call->nparams; i++)
		if (strcmp(call->params[i].field, field) == 0)
			return call->params[i].in == CF_IN_PATH;
	return false;
}

/* A copy of a list of lists of strings (copyObject copies nodes only). */
static List *
copy_key_values(List *key_values)
{
	List	   *copy = NIL;
	ListCell   *lc;

	foreach(lc, key_values)
	{
		List	   *values = NIL;
		ListCell   *lv;

		foreach(lv, (List *) lfirst(lc))
			values = lappend(values, pstrdup((char *) lfirst(lv)));
		copy = lappend(copy, values);
	}
	return copy;
}

static bool
same_key_values(List *a, List *b)
{
	ListCell   *la;
	ListCell   *lb;

	if (list_length(a) != list_length(b))
		return false;
	forboth(la, a, lb, b)
	{
		List	   *va = (List *) lfirst(la);
		List	   *vb = (List *) lfirst(lb);
		ListCell   *ca;
		ListCell   *cb;

		if (list_length(va) != list_length(vb))
			return false;
		forboth(ca, va, cb, vb)
			if (strcmp((char *) lfirst(ca), (char *) lfirst(cb)) != 0)
			return false;
	}
	return true;
}

/*
 * Evaluate the keys: every combination of their values is one request (a
 * get) or one listing.  With the same values as the recorded execution,
 * replay it instead.
 */
static void
start_scan(ForeignScanState *node, CfScanState *state)
{
	MemoryContext oldcxt;
	List	   *key_values = NIL;

	MemoryContextReset(state->execcxt);
	oldcxt = MemoryContextSwitchTo(state->execcxt);
	state->ncombos = 1;
	for (int i = 0; i < state->nkeys; i++)
	{
		CfScanKey  *key = &state->keys[i];

		key->values = evaluate_key(node, state, key, key_in_path(state->call, key->field));
		key_values = lappend(key_values, key->values);
		state->ncombos *= list_length(key->values);
	}
	state->combo = -1;
	state->pages_done = true;
	state->nitems = 0;
	state->next_item = 0;
	state->cursor.seen = NIL;
	MemoryContextSwitchTo(oldcxt);

	state->replaying = state->replay_complete &&
		same_key_values(key_values, state->replay_keys);
	if (state->replaying)
	{
		state->stats.replays++;
		state->next_item = 0;
		return;
	}

	/* record this execution, in place of the last one */
	MemoryContextReset(state->replaycxt);
	oldcxt = MemoryContextSwitchTo(state->replaycxt);
	state->replay_keys = copy_key_values(key_values);
	state->replay_items = cfj_new_array(state->replaycxt);
	state->replay_combos = palloc(sizeof(int) * CF_REPLAY_MAX_ITEMS);
	MemoryContextSwitchTo(oldcxt);
	state->nreplay = 0;
	state->recording = true;
	state->replay_complete = false;
}

/* Keep an item for replay; a long execution is not recorded at all. */
static void
record_item(CfScanState *state, CfJson *item, int combo)
{
	if (!state->recording)
		return;
	if (state->nreplay >= CF_REPLAY_MAX_ITEMS)
	{
		state->recording = false;
		MemoryContextReset(state->replaycxt);
		state->replay_items = NULL;
		return;
	}
	cfj_array_append(state->replay_items, item);
	state->replay_combos[state->nreplay++] = combo;
}

/* Set state->values to the key values of one combination. */
static void
set_combination(CfScanState *state, int combo)
{
	for (int i = state->nkeys - 1; i >= 0; i--)
	{
		int			n = list_length(state->keys[i].values);

		state->values[i].value = list_nth(state->keys[i].values, combo % n);
		combo /= n;
	}
}

static void
count_response(CfScanState *state, const CfHttpResponse *resp, instr_time started)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, started);
	INSTR_TIME_ADD(state->stats.http_time, now);
	state->stats.requests += 1 + resp->retries;
	state->stats.retries += resp->retries;
	state->stats.bytes += resp->body_len;
}

/* Fetch the next page of the current combination's listing. */
static void
fetch_page(CfScanState *state)
{
	const CfResource *resource = state->opts.resource;
	MemoryContext oldcxt;
	ErrorContextCallback errcallback;
	CfHttpRequest req = {
		.method = "GET",
		.endpoint = state->opts.endpoint,
		.creds = &state->creds,
		.opts = &state->opts,
	};
	CfHttpResponse resp;
	CfJson	   *page;
	instr_time	started;

	MemoryContextReset(state->pagecxt);
	oldcxt = MemoryContextSwitchTo(state->pagecxt);
	req.path = cf_page_request(state->call_request, &state->cursor);
	cf_push_request_context(&errcallback, &req);

	INSTR_TIME_SET_CURRENT(started);
	cf_send_request(state->conn, &req, &resp);
	count_response(state, &resp, started);
	state->stats.pages++;
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(&req, &resp);
	page = cfj_parse(resp.body, resp.body_len, state->pagecxt);
	state->items = cf_page_items(resource, page);
	state->item_combos = NULL;
	state->nitems = cfj_array_length(state->items);
	state->next_item = 0;
	MemoryContextSwitchTo(state->execcxt);
	cf_advance_cursor(resource, state->opts.page_size, page, state->nitems, &state->cursor);
	state->pages_done = (state->cursor.next_query == NULL);

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Get the items of the next combinations, up to "concurrency" requests at
 * once; items keep the order of their keys, a 404 is no item.  False when
 * no combination is left.
 */
static bool
fetch_get_batch(CfScanState *state)
{
	int			first = state->combo + 1;
	int			n = Min(state->opts.concurrency, state->ncombos - first);
	CfHttpRequest *reqs;
	int		   *slots;
	MemoryContext oldcxt;
	instr_time	started;

	if (n <= 0)
		return false;
	MemoryContextReset(state->pagecxt);
	oldcxt = MemoryContextSwitchTo(state->pagecxt);
	reqs = palloc0(sizeof(CfHttpRequest) * n);
	slots = palloc(sizeof(int) * n);
	INSTR_TIME_SET_CURRENT(started);
	for (int i = 0; i < n; i++)
	{
		set_combination(state, first + i);
		reqs[i].method = "GET";
		reqs[i].endpoint = state->opts.endpoint;
		reqs[i].path = cf_call_request(state->call, state->values, state->nkeys,
									   &state->opts, false);
		reqs[i].creds = &state->creds;
		reqs[i].opts = &state->opts;
		slots[i] = cf_http_start(state->conn, &reqs[i], state->pagecxt);
	}

	state->items = cfj_new_array(state->pagecxt);
	state->item_combos = palloc(sizeof(int) * n);
	state->nitems = 0;
	state->next_item = 0;
	for (int i = 0; i < n; i++)
	{
		ErrorContextCallback errcallback;
		CfHttpResponse resp;
		CfJson	   *answer;
		CfJson	   *item;

		cf_push_request_context(&errcallback, &reqs[i]);
		cf_http_finish(state->conn, cf_http_wait(state->conn, slots[i]), &resp, NULL);
		count_response(state, &resp, started);
		if (resp.status != 404)
		{
			if (resp.status < 200 || resp.status > 299)
				cf_report_http_error(&reqs[i], &resp);
			answer = cfj_parse(resp.body, resp.body_len, state->pagecxt);
			item = state->call->item_path ? cfj_get(answer, state->call->item_path) : answer;
			if (cfj_type(item) != CFJ_OBJECT)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("get response holds no item object")));
			cfj_array_append(state->items, item);
			state->item_combos[state->nitems++] = first + i;
		}
		error_context_stack = errcallback.previous;
	}
	state->combo += n;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/* Start the listing of the next combination; false when there is none. */
static bool
next_listing(CfScanState *state)
{
	MemoryContext oldcxt;

	if (++state->combo >= state->ncombos)
		return false;
	set_combination(state, state->combo);
	oldcxt = MemoryContextSwitchTo(state->execcxt);
	state->call_request = cf_call_request(state->call, state->values, state->nkeys,
										  &state->opts, false);
	cf_first_page(state->opts.resource, state->opts.page_size, &state->cursor);
	MemoryContextSwitchTo(oldcxt);
	state->pages_done = false;
	return true;
}

static TupleTableSlot *
store_row(ForeignScanState *node, CfScanState *state, CfJson *item, int combo)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt;

	set_combination(state, combo);
	MemoryContextReset(econtext->ecxt_per_tuple_memory);
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	cf_store_item(state->maps, item, state->values, state->nkeys, slot);
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

static TupleTableSlot *
cloudIterateForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	if (!state->started)
	{
		state->started = true;
		start_scan(node, state);
	}

	if (state->replaying)
	{
		int			i = state->next_item++;

		if (i >= state->nreplay)
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
		return store_row(node, state, cfj_array_get(state->replay_items, i),
						 state->replay_combos[i]);
	}

	for (;;)
	{
		if (state->next_item < state->nitems)
		{
			int			i = state->next_item++;
			CfJson	   *item = cfj_array_get(state->items, i);
			int			combo = state->item_combos ? state->item_combos[i] : state->combo;

			record_item(state, item, combo);
			return store_row(node, state, item, combo);
		}
		if (state->is_get)
		{
			if (!fetch_get_batch(state))
				break;
			continue;
		}
		if (state->pages_done && !next_listing(state))
			break;
		fetch_page(state);
	}

	state->replay_complete = state->recording;
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

static void
cloudReScanForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	state->started = false;
	state->nitems = 0;
	state->next_item = 0;
}

static void
cloudEndForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	/* The contexts belong to the query; release pages and replays early anyway. */
	if (state != NULL)
	{
		MemoryContextDelete(state->pagecxt);
		MemoryContextDelete(state->replaycxt);
	}
}

/* ----------------------------------------------------------------
 * Updating
 * ----------------------------------------------------------------
 */
static int
cloudIsForeignRelUpdatable(Relation rel)
{
	const CfResource *resource = cf_table_resource(RelationGetRelid(rel));

	return (resource != NULL && resource->update != NULL) ? (1 << CMD_UPDATE) : 0;
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

/* The column mapped to a field, or InvalidAttrNumber. */
static AttrNumber
field_attnum(Relation rel, const char *field)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped &&
			strcmp(cf_column_path(RelationGetRelid(rel), i + 1), field) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

/*
 * Check at plan time that every SET column is a field the API lets us
 * change and that the row carries what the update call's path needs, and
 * order the columns so that shallower JSON paths are written first.
 */
static List *
cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	CfOptions	opts;
	const CfCall *update;
	List	   *target_attrs = NIL;
	Bitmapset  *updated;
	Relation	rel;
	int			col = -1;

	if (plan->operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						plan->operation == CMD_INSERT ? "insert into" : "delete from",
						get_rel_name(rte->relid)),
				 errdetail("cloud_fdw only updates existing cloud resources.")));

	cf_get_options(rte->relid, &opts);
	update = opts.resource->update;
	if (update == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", get_rel_name(rte->relid)),
				 errdetail("The cloud API offers no update call for resource \"%s\".",
						   opts.resource->name)));
	rel = table_open(rte->relid, NoLock);
	for (int i = 0; i < update->nparams; i++)
		if (update->params[i].in == CF_IN_PATH &&
			field_attnum(rel, update->params[i].field) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no column for \"%s\", which updates of resource \"%s\" need",
							get_rel_name(rte->relid), update->params[i].field, opts.resource->name),
					 errhint("Add a column mapped to JSON path \"%s\".", update->params[i].field)));
	table_close(rel, NoLock);

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
	const CfResource *resource;
	CfModifyState *state;
	UserMapping *user;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfModifyState));
	rinfo->ri_FdwState = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	resource = state->opts.resource;
	user = user_mapping_for(estate, rinfo->ri_RangeTableIndex, state->opts.serverid);
	cf_get_credentials(user, &state->opts, &state->creds);
	state->conn = cf_get_connection(user);
	state->maps = cf_column_maps(rel, resource, NULL);
	state->target_attrs = (List *) linitial(fdw_private);

	/* the old row fills the path parameters of the update and get calls */
	for (AttrNumber attnum = 1; attnum <= RelationGetNumberOfAttributes(rel); attnum++)
	{
		const char *path = cf_column_map_path(state->maps, attnum);

		if (path != NULL && is_param_field(resource, path))
			state->param_attrs = lappend_int(state->param_attrs, attnum);
	}

	state->key_column = cf_key_attnum(rel, resource);
	state->key_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_KEY_JUNK_NAME);
	state->wholerow_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	if (!AttributeNumberIsValid(state->key_attno) ||
		!AttributeNumberIsValid(state->wholerow_attno))
		elog(ERROR, "could not find the junk columns of an UPDATE");

	state->rowcxt = AllocSetContextCreate(estate->es_query_cxt,
										  "cloud_fdw update row",
										  ALLOCSET_DEFAULT_SIZES);
	state->async = (((ModifyTable *) mtstate->ps.plan)->returningLists == NIL &&
					rinfo->ri_TrigDesc == NULL);
	state->pending = palloc0(sizeof(CfPendingWrite) * state->opts.concurrency);
	state->stmtcxt = CurrentMemoryContext;
}

/* Count a row the API changed, and remember its key for an error to name. */
static void
note_applied(CfModifyState *state, const char *key)
{
	MemoryContext oldcxt;

	if (++state->applied > CF_APPLIED_KEYS_SHOWN)
		return;
	/* the list outlives the row: not in the row's context */
	oldcxt = MemoryContextSwitchTo(state->stmtcxt);
	state->applied_keys = lappend(state->applied_keys, pstrdup(key));
	MemoryContextSwitchTo(oldcxt);
}

/* The keys of the rows changed remotely, sorted: writes finish in any order. */
static char *
applied_keys_text(CfModifyState *state)
{
	List	   *keys = list_copy(state->applied_keys);
	StringInfoData buf;
	ListCell   *lc;

	list_sort(keys, compare_strings);
	initStringInfo(&buf);
	foreach(lc, keys)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", (char *) lfirst(lc));
	if (state->applied > CF_APPLIED_KEYS_SHOWN)
		appendStringInfoString(&buf, ", ...");
	return buf.data;
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
				   "already changed remotely, which stay changed: " INT64_FORMAT " (%s)",
				   state->current_key, state->opts.resource->name, state->applied,
				   applied_keys_text(state));
	if (state->npending > 1)
		errcontext("other update requests of this statement still on their way, "
				   "which may or may not be applied: %d", state->npending - 1);
}

/* Send one write (or get) call of the row; returns the parsed answer or NULL. */
static CfJson *
row_call(CfModifyState *state, const CfCall *call, const CfParamValue *values,
		 int nvalues, const char *body)
{
	ErrorContextCallback errcallback;
	CfHttpRequest req = {
		.method = call->method,
		.endpoint = state->opts.endpoint,
		.body = body,
		.creds = &state->creds,
		.opts = &state->opts,
	};
	CfHttpResponse resp;
	CfJson	   *answer = NULL;

	req.path = cf_call_request(call, values, nvalues, &state->opts, false);
	cf_push_request_context(&errcallback, &req);
	cf_send_request(state->conn, &req, &resp);
	state->requests++;
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(&req, &resp);
	if (resp.body_len > 0)
		answer = cfj_parse(resp.body, resp.body_len, state->rowcxt);
	error_context_stack = errcallback.previous;
	return answer;
}

static void
run_actions(CfModifyState *state, List *actions, const CfParamValue *values, int nvalues)
{
	ListCell   *lc;

	foreach(lc, actions)
		(void) row_call(state, state->opts.resource->action, values, nvalues,
						((const CfFieldAction *) lfirst(lc))->body);
}

/* Start an update call without waiting for it. */
static void
start_write(CfModifyState *state, EState *estate, const CfParamValue *values,
			int nvalues, CfJson *body)
{
	CfPendingWrite *w = &state->pending[state->npending];
	MemoryContext oldcxt;

	w->cxt = AllocSetContextCreate(estate->es_query_cxt, "cloud_fdw write",
								   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(w->cxt);
	memset(&w->req, 0, sizeof(CfHttpRequest));
	w->req.method = state->opts.resource->update->method;
	w->req.endpoint = state->opts.endpoint;
	w->req.path = cf_call_request(state->opts.resource->update, values, nvalues,
								  &state->opts, false);
	w->req.body = cfj_serialize(body);
	w->req.creds = &state->creds;
	w->req.opts = &state->opts;
	w->key = pstrdup(state->current_key);
	MemoryContextSwitchTo(oldcxt);
	w->slot = cf_http_start(state->conn, &w->req, w->cxt);
	state->npending++;
	state->requests++;
}

/* Take the answer of a finished update call; false if the API refused it. */
static bool
finish_write(CfModifyState *state, CfPendingWrite *w, CfHttpResponse *resp)
{
	ErrorContextCallback errcallback;
	MemoryContext oldcxt = MemoryContextSwitchTo(w->cxt);

	cf_push_request_context(&errcallback, &w->req);
	cf_http_finish(state->conn, w->slot, resp, NULL);
	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return resp->status >= 200 && resp->status <= 299;
}

static void
forget_write(CfModifyState *state, CfPendingWrite *w)
{
	MemoryContextDelete(w->cxt);
	*w = state->pending[--state->npending];
}

/*
 * Wait for any update call on its way.  When the API refuses one, no new
 * call is started; those already sent are waited for, so that the error can
 * say exactly how many rows were changed remotely.
 */
static void
complete_write(CfModifyState *state)
{
	int			slot = cf_http_wait(state->conn, -1);
	CfPendingWrite *w = NULL;
	CfHttpResponse resp;
	ErrorContextCallback update_errcallback;
	ErrorContextCallback request_errcallback;

	for (int i = 0; i < state->npending; i++)
		if (state->pending[i].slot == slot)
			w = &state->pending[i];
	if (w == NULL)
		elog(ERROR, "finished HTTP transfer belongs to no update");

	state->current_key = w->key;
	cf_push_error_context(&update_errcallback, update_context, state);
	if (finish_write(state, w, &resp))
	{
		error_context_stack = update_errcallback.previous;
		note_applied(state, w->key);
		forget_write(state, w);
		return;
	}

	/* settle the others, then report this refusal */
	while (state->npending > 1)
	{
		CfPendingWrite *other = NULL;
		CfHttpResponse other_resp;

		slot = cf_http_wait(state->conn, -1);
		for (int i = 0; i < state->npending; i++)
			if (state->pending[i].slot == slot && &state->pending[i] != w)
				other = &state->pending[i];
		if (other == NULL)
			elog(ERROR, "finished HTTP transfer belongs to no update");
		if (finish_write(state, other, &other_resp))
			note_applied(state, other->key);
		/* keep the failed write's entry in place while others move */
		if (other != &state->pending[state->npending - 1] &&
			w == &state->pending[state->npending - 1])
			w = other;
		forget_write(state, other);
	}
	state->current_key = w->key;
	cf_push_request_context(&request_errcallback, &w->req);
	cf_report_http_error(&w->req, &resp);
}

static void
complete_all_writes(CfModifyState *state)
{
	while (state->npending > 0)
		complete_write(state);
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
	CfRowUpdate update;
	CfParamValue *values;
	int			nvalues = 0;
	ErrorContextCallback errcallback;
	CfJson	   *item = NULL;
	ListCell   *lc;

	MemoryContextReset(state->rowcxt);
	oldcxt = MemoryContextSwitchTo(state->rowcxt);

	datum = ExecGetJunkAttribute(planSlot, state->key_attno, &isnull);
	if (isnull)
		elog(ERROR, "key of the row to update is null");
	state->current_key = cf_datum_to_text(state->maps, state->key_column, datum);

	datum = ExecGetJunkAttribute(planSlot, state->wholerow_attno, &isnull);
	if (isnull)
		elog(ERROR, "old row of the row to update is null");
	oldtuple.t_data = DatumGetHeapTupleHeader(datum);
	oldtuple.t_len = HeapTupleHeaderGetDatumLength(oldtuple.t_data);
	oldvalues = palloc(sizeof(Datum) * tupdesc->natts);
	oldnulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(&oldtuple, tupdesc, oldvalues, oldnulls);
	slot_getallattrs(slot);

	cf_plan_row_update(resource, state->maps, state->target_attrs, tupdesc->natts,
					   oldvalues, oldnulls, slot->tts_values, slot->tts_isnull,
					   state->rowcxt, &update);
	if (update.body == NULL && update.actions_before == NIL && update.actions_after == NIL)
	{
		/* nothing changed: nothing to send, and the row stays as it is */
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}

	values = palloc0(sizeof(CfParamValue) * Max(1, list_length(state->param_attrs)));
	foreach(lc, state->param_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);

		if (oldnulls[attnum - 1])
			continue;
		values[nvalues].field = cf_column_map_path(state->maps, attnum);
		values[nvalues++].value = cf_datum_to_text(state->maps, attnum, oldvalues[attnum - 1]);
	}

	if (state->async && update.actions_before == NIL && update.actions_after == NIL)
	{
		if (state->npending == state->opts.concurrency)
			complete_write(state);
		start_write(state, estate, values, nvalues, update.body);
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}
	/* a row that needs several calls in order: first finish the others */
	complete_all_writes(state);

	cf_push_error_context(&errcallback, update_context, state);

	run_actions(state, update.actions_before, values, nvalues);
	if (update.body != NULL)
	{
		CfJson	   *answer = row_call(state, resource->update, values, nvalues,
									  cfj_serialize(update.body));

		if (resource->update->returns_item && update.actions_after == NIL)
			item = resource->update->item_path
				? cfj_get(answer, resource->update->item_path) : answer;
	}
	run_actions(state, update.actions_after, values, nvalues);
	note_applied(state, state->current_key);

	/* the row comes back from the API: the update's answer, or a get */
	if (item == NULL)
	{
		CfJson	   *answer = row_call(state, resource->get, values, nvalues, NULL);

		item = resource->get->item_path ? cfj_get(answer, resource->get->item_path) : answer;
	}
	if (cfj_type(item) != CFJ_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the cloud API's answer holds no item object")));
	cf_store_item(state->maps, item, values, nvalues, slot);

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

static void
cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;

	if (state != NULL)
	{
		complete_all_writes(state);
		MemoryContextDelete(state->rowcxt);
	}
}

static void
cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	CfOptions	opts;
	const CfCall *update;

	if (es->analyze && rinfo->ri_FdwState != NULL)
		ExplainPropertyInteger("Remote requests", NULL,
							   ((CfModifyState *) rinfo->ri_FdwState)->requests, es);
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(rinfo->ri_RelationDesc), &opts);
	update = opts.resource->update;
	ExplainPropertyText("Remote request",
						psprintf("%s %s (changed columns of each row)", update->method,
								 cf_call_request(update, NULL, 0, &opts, true)),
						es);
}

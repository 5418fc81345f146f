/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  Planning foreign scans: which call of the resource a scan makes (a get
 *		  when the quals name whole items, else a listing), with which key
 *		  values (constants, IN lists, or join parameters of a nested loop),
 *		  and at what cost, counted in round trips.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "optimizer/tlist.h"
#include "utils/fmgroids.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "cloud_fdw.h"

/*
 * Planner cost units per millisecond of waiting for a cloud API.  A page
 * read (1.0) takes less, but costs in the millions would switch JIT on
 * (jit_above_cost) for a plan that spends its time waiting: a round trip
 * of 50 ms costs as much as reading 50 pages.
 */
#define CF_COST_PER_MS 1.0

/* A qual that gives a call parameter its value: field = value, or IN. */
typedef struct CfKeyQual
{
	const char *field;
	Expr	   *value;			/* a scalar, or an array for "= ANY" */
	bool		is_array;
	RestrictInfo *rinfo;
} CfKeyQual;

/* The call a path makes and the key quals that give its parameters values. */
typedef struct CfCallChoice
{
	const CfCall *call;
	List	   *used;			/* CfKeyQual */
} CfCallChoice;

/* Planner state of a foreign table. */
typedef struct CfRelInfo
{
	CfOptions	opts;
	char	  **paths;			/* JSON path of each column, by attnum - 1 */
	Const	  **fixed;			/* the value a column has in every row, or NULL */
	int			natts;
	Bitmapset  *attrs_used;		/* attribute numbers the query reads */
	CfCallChoice *base_choice;	/* for the quals of the relation alone, or NULL */
} CfRelInfo;

/* Whether the call's parameter for a field matches loosely (EPS "name"). */
static bool
param_is_fuzzy(const CfCall *call, const char *field)
{
	const CfCallParam *param = cf_call_param(call, field);

	return param != NULL && param->fuzzy;
}

/*
 * Whether equality of a type is equality of the text the API receives, so
 * that a request for the value finds exactly the items the qual accepts.
 * char(n) qualifies because keys are sent without its blank padding; a
 * type such as citext, whose "=" ignores case, or uuid, whose text is
 * normalized, does not: its quals are checked locally on a listing.
 */
static bool
key_type_is_exact(Oid type)
{
	switch (getBaseType(type))
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return true;
	}
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
		!cf_is_param_field(fpinfo->opts.resource, fpinfo->paths[var->varattno - 1]))
		return false;
	typentry = lookup_type_cache(var->vartype, TYPECACHE_EQ_OPR);
	if (opno != typentry->eq_opr || !key_type_is_exact(var->vartype))
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
 * only to parameters that identify things exactly: path parameters,
 * required ones and lists, never to optional filters such as a fuzzy
 * "name", for which one listing checked locally beats a listing per value.
 */
static bool
call_possible(const CfCall *call, List *quals, const CfOptions *opts, List **used)
{
	*used = NIL;
	if (call == NULL)
		return false;
	for (int i = 0; i < call->nparams; i++)
	{
		const CfCallParam *param = &call->params[i];
		bool		arrays_ok = !param->fuzzy &&
			(param->in == CF_IN_PATH || param->required || param->shape == CF_SHAPE_LIST);
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
static CfCallChoice *
choose_call(const CfResource *resource, List *quals, const CfOptions *opts)
{
	CfCallChoice *choice = palloc0(sizeof(CfCallChoice));

	if (call_possible(resource->get, quals, opts, &choice->used))
		choice->call = resource->get;
	else if (call_possible(resource->list, quals, opts, &choice->used))
		choice->call = resource->list;
	else
		return NULL;
	return choice;
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

/*
 * Rows of one execution of a scan that makes this call, and, when asked,
 * its cost.
 */
static void
estimate_scan(PlannerInfo *root, RelOptInfo *baserel, CfRelInfo *fpinfo,
			  const CfCallChoice *choice, List *all_rinfos,
			  double *rows, Cost *startup_cost, Cost *total_cost)
{
	const CfResource *resource = fpinfo->opts.resource;
	double		request_cost = fpinfo->opts.request_latency_ms * CF_COST_PER_MS;
	const CfCall *call = choice->call;
	List	   *used = choice->used;
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
	if (startup_cost == NULL)
		return;
	*startup_cost = request_cost;
	*total_cost = rounds * request_cost + items * cpu_tuple_cost;
}

void
cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = palloc0(sizeof(CfRelInfo));
	Relation	rel;
	TupleDesc	tupdesc;
	ListCell   *lc;

	baserel->fdw_private = fpinfo;
	cf_get_options(foreigntableid, &fpinfo->opts);
	/* ANALYZE counted the collection (reltuples < 0: never analyzed) */
	if (baserel->tuples >= 0 && !fpinfo->opts.estimated_items_given)
		fpinfo->opts.estimated_items = baserel->tuples;

	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	fpinfo->natts = tupdesc->natts;
	fpinfo->paths = palloc0(sizeof(char *) * tupdesc->natts);
	fpinfo->fixed = palloc0(sizeof(Const *) * tupdesc->natts);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		/* a fixed column maps to no field: it is never a key */
		fpinfo->fixed[i] = cf_fixed_value(foreigntableid, att);
		if (fpinfo->fixed[i] == NULL)
			fpinfo->paths[i] = cf_column_path(foreigntableid, i + 1);
	}
	table_close(rel, NoLock);

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause, baserel->relid,
					   &fpinfo->attrs_used);

	/* the unparameterized path's choice, made once: GetForeignPaths costs it */
	fpinfo->base_choice = choose_call(fpinfo->opts.resource,
									  key_quals(baserel, fpinfo, baserel->baserestrictinfo, NULL),
									  &fpinfo->opts);
	if (fpinfo->base_choice != NULL)
		estimate_scan(root, baserel, fpinfo, fpinfo->base_choice, baserel->baserestrictinfo,
					  &baserel->rows, NULL, NULL);
	else
		baserel->rows = clamp_row_est(fpinfo->opts.estimated_items);
}

/* Callback of generate_implied_equalities_for_column: is em our column? */
static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	/* a varchar or domain column is a member under its cast, as in match_key_qual */
	Var		   *var = (Var *) strip_implicit_coercions((Node *) em->em_expr);

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
			cf_is_param_field(fpinfo->opts.resource, fpinfo->paths[attnum - 1]))
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

/* Whether a list of Relids holds one equal to relids (a Bitmapset is no Node). */
static bool
relids_member(List *list, Relids relids)
{
	ListCell   *lc;

	foreach(lc, list)
		if (bms_equal((Relids) lfirst(lc), relids))
			return true;
	return false;
}

/* Whether one of the key quals gives a value to field. */
static bool
has_key_qual(List *quals, const char *field)
{
	ListCell   *lc;

	foreach(lc, quals)
		if (strcmp(((CfKeyQual *) lfirst(lc))->field, field) == 0)
			return true;
	return false;
}

/*
 * No call can be made: say which values the query must still give (not
 * those its conditions or table options give), and for each how.
 */
pg_noreturn static void
report_missing_keys(CfRelInfo *fpinfo, Oid foreigntableid, List *quals)
{
	const CfResource *resource = fpinfo->opts.resource;
	const CfCall *list = resource->list;
	StringInfoData needed;
	StringInfoData hint;

	initStringInfo(&needed);
	initStringInfo(&hint);
	for (int i = 0; i < list->nparams; i++)
	{
		const CfCallParam *param = &list->params[i];

		if (!param->required || has_key_qual(quals, param->field) ||
			(param->table_option != NULL && cf_param_option(&fpinfo->opts, param->table_option) != NULL))
			continue;
		appendStringInfo(&needed, "%s\"%s\"", needed.len > 0 ? " and " : "", param->field);
		if (hint.len == 0)
			appendStringInfo(&hint, "Add a condition such as WHERE %s = '...' (or IN, or a join on it)",
							 param->field);
		if (param->table_option != NULL)
			appendStringInfo(&hint, "; table option \"%s\" can give \"%s\" a fixed value",
							 param->table_option, param->field);
		if (param->hint != NULL)
			appendStringInfo(&hint, "; %s", param->hint);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("foreign table \"%s\" needs a value for %s",
					get_rel_name(foreigntableid), needed.data),
			 errdetail("The cloud API lists resource \"%s\" only for a given %s.",
					   resource->name, needed.data),
			 errhint("%s.", hint.data)));
}

void
cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *fpinfo = (CfRelInfo *) baserel->fdw_private;
	const CfResource *resource = fpinfo->opts.resource;
	List	   *outers_done = NIL;
	Relids		all_outers = NULL;
	CfCallChoice *choice = fpinfo->base_choice;
	double		rows;
	Cost		startup_cost;
	Cost		total_cost;
	ListCell   *lc;

	/*
	 * PostgreSQL needs a path without parameters for every base relation,
	 * even one that needs a value from a join (a joinrel that lacks the
	 * supplying relation is built from it).  Without a call to make, it is
	 * a last resort that loses even to plans that enable_nestloop = off
	 * disables: the plan gets it only when no join can supply the value, and
	 * then GetForeignPlan says which value is missing.
	 */
	if (choice != NULL)
		estimate_scan(root, baserel, fpinfo, choice, baserel->baserestrictinfo,
					  &rows, &startup_cost, &total_cost);
	else
	{
		rows = baserel->rows;
		startup_cost = total_cost = CF_LAST_RESORT_COST;
	}
	add_path(baserel, (Path *)
			 cf_create_foreignscan_path(root, baserel, NULL, rows,
										choice != NULL ? 0 : CF_LAST_RESORT_DISABLED_NODES,
										startup_cost, total_cost, NIL, NULL, NULL,
										choice != NULL ? list_make1(choice) : NIL));

	/*
	 * Parameterized paths: a get (or a list) per row of the relations that
	 * give key values, each such set of relations alone, and all of them
	 * together, since a call may need values from several (a project from
	 * one table, a type from another).
	 */
	foreach(lc, join_key_clauses(root, baserel, fpinfo))
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		CfKeyQual	probe;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer) ||
			!match_key_qual(baserel, fpinfo, rinfo->clause, required_outer, &probe) ||
			relids_member(outers_done, required_outer))
			continue;
		outers_done = lappend(outers_done, required_outer);
		all_outers = bms_union(all_outers, required_outer);
	}
	if (list_length(outers_done) > 1 && !relids_member(outers_done, all_outers))
		outers_done = lappend(outers_done, all_outers);
	foreach(lc, outers_done)
	{
		Relids		required_outer = (Relids) lfirst(lc);
		ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		List	   *rinfos = list_concat_copy(baserel->baserestrictinfo, ppi->ppi_clauses);

		choice = choose_call(resource, key_quals(baserel, fpinfo, rinfos, required_outer),
							 &fpinfo->opts);
		if (choice == NULL)
			continue;
		/* our own row count: a get returns one row per key, whatever ppi_rows says */
		estimate_scan(root, baserel, fpinfo, choice, rinfos, &rows, &startup_cost, &total_cost);
		add_path(baserel, (Path *)
				 cf_create_foreignscan_path(root, baserel, NULL, rows, 0,
											startup_cost, total_cost, NIL,
											required_outer, NULL, list_make1(choice)));
	}
}

/*
 * Whether a qual only reads columns the table fixes (the column option
 * "value"): it is decided without a request, exactly.
 */
static bool
is_fixed_qual(RelOptInfo *baserel, CfRelInfo *fpinfo, RestrictInfo *rinfo)
{
	Bitmapset  *attrs = NULL;
	int			attr = -1;

	if (!bms_equal(rinfo->clause_relids, baserel->relids) ||
		contain_volatile_functions((Node *) rinfo->clause))
		return false;
	pull_varattnos((Node *) rinfo->clause, baserel->relid, &attrs);
	while ((attr = bms_next_member(attrs, attr)) >= 0)
	{
		AttrNumber	attnum = attr + FirstLowInvalidHeapAttributeNumber;

		if (attnum < 1 || fpinfo->fixed[attnum - 1] == NULL)
			return false;
	}
	return attrs != NULL;
}

/* Whether the API (or the table's fixed values) applies every qual exactly. */
static bool
quals_exact(RelOptInfo *baserel, CfRelInfo *fpinfo, const CfCall *call, List *used,
			List *rinfos)
{
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		bool		exact = is_fixed_qual(baserel, fpinfo, lfirst_node(RestrictInfo, lc));
		ListCell   *lu;

		foreach(lu, used)
		{
			CfKeyQual  *qual = (CfKeyQual *) lfirst(lu);

			if (qual->rinfo == lfirst(lc) && !param_is_fuzzy(call, qual->field))
				exact = true;
		}
		if (!exact)
			return false;
	}
	return true;
}

/*
 * The rows a listing must deliver at most, when the query's LIMIT says so
 * for sure: one relation, nothing between the scan and the LIMIT that
 * needs more rows (sorting, grouping, aggregates...), and every qual applied
 * exactly by the API, so that no local check drops rows.  0: unknown.
 */
static int
safe_limit(PlannerInfo *root, RelOptInfo *baserel, CfRelInfo *fpinfo,
		   const CfCall *call, List *used, List *rinfos)
{
	Query	   *parse = root->parse;

	if (root->limit_tuples <= 0 || root->limit_tuples > INT_MAX ||
		parse->commandType != CMD_SELECT ||
		bms_membership(root->all_baserels) != BMS_SINGLETON ||
		parse->sortClause != NIL || parse->setOperations != NULL ||
		parse->rowMarks != NIL ||
		!quals_exact(baserel, fpinfo, call, used, rinfos))
		return 0;
	return (int) root->limit_tuples;
}

/* A fixed column's Var replaced by its value: a qual that needs no row. */
static Node *
replace_fixed_columns(Node *node, void *context)
{
	RelOptInfo *baserel = (RelOptInfo *) context;
	CfRelInfo  *fpinfo = (CfRelInfo *) baserel->fdw_private;

	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varno == baserel->relid &&
		((Var *) node)->varlevelsup == 0 && ((Var *) node)->varattno > 0)
		return (Node *) copyObject(fpinfo->fixed[((Var *) node)->varattno - 1]);
	return expression_tree_mutator(node, replace_fixed_columns, context);
}

/* The quals on fixed columns, with the values in place, for the scan to decide. */
static List *
fixed_gates(RelOptInfo *baserel, CfRelInfo *fpinfo, List *rinfos)
{
	List	   *gates = NIL;
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (is_fixed_qual(baserel, fpinfo, rinfo))
			gates = lappend(gates, replace_fixed_columns((Node *) rinfo->clause, baserel));
	}
	return gates;
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

/* The upper relation of a count(*) scan: the scanned relation's. */
typedef struct CfUpperInfo
{
	RelOptInfo *input_rel;
} CfUpperInfo;

ForeignScan *
cloudGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					ForeignPath *best_path, List *tlist, List *scan_clauses,
					Plan *outer_plan)
{
	bool		count_only = IS_UPPER_REL(baserel);
	RelOptInfo *scanrel = count_only ? ((CfUpperInfo *) baserel->fdw_private)->input_rel : baserel;
	CfRelInfo  *fpinfo = (CfRelInfo *) scanrel->fdw_private;
	CfCallChoice *choice;
	List	   *fdw_exprs = NIL;
	List	   *fields = NIL;
	List	   *arrays = NIL;
	List	   *gates;
	int			limit = 0;
	ListCell   *lc;

	/* the path's choice; the last-resort path has none, and says what is missing */
	if (best_path->fdw_private == NIL)
		report_missing_keys(fpinfo, foreigntableid,
							key_quals(baserel, fpinfo, scan_clauses,
									  PATH_REQ_OUTER(&best_path->path)));
	choice = linitial(best_path->fdw_private);
	foreach(lc, choice->used)
	{
		CfKeyQual  *qual = (CfKeyQual *) lfirst(lc);

		fdw_exprs = lappend(fdw_exprs, qual->value);
		fields = lappend(fields, makeString(pstrdup(qual->field)));
		arrays = lappend_int(arrays, qual->is_array);
	}

	/*
	 * A count(*) reads the total of each listing, its quals all applied
	 * exactly by the API or by the table's fixed values: nothing is checked
	 * locally.  Otherwise every qual is checked locally too, the key quals
	 * included: cheap.
	 */
	if (count_only)
		scan_clauses = scanrel->baserestrictinfo;
	else
		limit = safe_limit(root, baserel, fpinfo, choice->call, choice->used, scan_clauses);
	gates = fixed_gates(scanrel, fpinfo, scan_clauses);
	fdw_exprs = list_concat(fdw_exprs, gates);
	scan_clauses = count_only ? NIL : extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, count_only ? 0 : baserel->relid, fdw_exprs,
							lappend(lappend(list_make5(makeInteger(choice->call == fpinfo->opts.resource->get),
													   retrieved_attrs(fpinfo->attrs_used, fpinfo->natts),
													   fields, arrays, makeInteger(limit)),
											makeInteger(count_only)),
									makeInteger(list_length(gates))),
							count_only ? tlist : NIL, NIL, outer_plan);
}

/* Whether an expression is count(*), with no FILTER, DISTINCT or ORDER BY. */
static bool
is_count_star(Expr *expr)
{
	Aggref	   *agg = (Aggref *) expr;

	return IsA(expr, Aggref) && agg->aggfnoid == F_COUNT_ && agg->aggstar &&
		agg->aggfilter == NULL && agg->aggdistinct == NIL && agg->aggorder == NIL &&
		agg->aggkind == AGGKIND_NORMAL && agg->agglevelsup == 0;
}

/*
 * count(*) of a listing whose answers say how many items all pages hold:
 * one request per combination of key values, for a page of one item,
 * when the query counts the rows of this table alone, with no GROUP BY,
 * and every qual is applied exactly by the API.
 */
void
cloudGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						  RelOptInfo *input_rel, RelOptInfo *output_rel, void *extra)
{
	CfRelInfo  *fpinfo = (CfRelInfo *) input_rel->fdw_private;
	Query	   *parse = root->parse;
	PathTarget *target = root->upper_targets[UPPERREL_GROUP_AGG];
	CfCallChoice *choice;
	CfUpperInfo *upper;
	double		rounds;
	ListCell   *lc;

	if (stage != UPPERREL_GROUP_AGG || !IS_SIMPLE_REL(input_rel) || fpinfo == NULL ||
		output_rel->fdw_private != NULL ||
		parse->groupClause != NIL || parse->groupingSets != NIL ||
		parse->havingQual != NULL || target == NULL ||
		bms_membership(root->all_baserels) != BMS_SINGLETON)
		return;
	choice = fpinfo->base_choice;
	if (choice == NULL || choice->call != fpinfo->opts.resource->list ||
		fpinfo->opts.resource->pagination->total_path == NULL ||
		!quals_exact(input_rel, fpinfo, choice->call, choice->used, input_rel->baserestrictinfo))
		return;
	foreach(lc, target->exprs)
		if (!is_count_star((Expr *) lfirst(lc)))
			return;

	upper = palloc0(sizeof(CfUpperInfo));
	upper->input_rel = input_rel;
	output_rel->fdw_private = upper;
	rounds = 1;
	foreach(lc, choice->used)
		rounds *= key_values_estimate((CfKeyQual *) lfirst(lc));
	add_path(output_rel, (Path *)
			 cf_create_foreign_upper_path(root, output_rel, target, 1,
										  rounds * fpinfo->opts.request_latency_ms * CF_COST_PER_MS,
										  rounds * fpinfo->opts.request_latency_ms * CF_COST_PER_MS,
										  list_make1(choice)));
}

/* Scans of a table may run concurrently under an Append unless it says not to. */
bool
cloudIsForeignPathAsyncCapable(ForeignPath *path)
{
	RelOptInfo *rel = path->path.parent;

	return IS_SIMPLE_REL(rel) && ((CfRelInfo *) rel->fdw_private)->opts.async_capable;
}

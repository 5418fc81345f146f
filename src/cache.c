/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The cache of read answers: opt-in ("cache_ttl"), keyed by the
 *		  credential identity, the method, the URL and the body; in shared
 *		  memory when cloud_fdw is preloaded, else in each backend.
 *
 * None of the APIs sends validators (ETag), so freshness comes from the
 * time-to-live and from our own writes.  A query judges an entry's age
 * against its own start, so that no page expires half way through it.  A
 * write notes its identity and resource; when the statement ends (or
 * aborts: the cloud keeps what was applied) their entries are dropped, in
 * every backend since the area is shared, and the items the writes
 * answered replace their cached gets.  An entry still being fetched when
 * it is dropped is doomed: its answer, which may predate the write, is
 * not kept.
 *
 * Backends asking for the same answer at once make one request: the first
 * holds a pending entry and the others wait until it is filled.  A backend
 * holding pending entries of its own never waits, so waits cannot form a
 * cycle, and a wait lasts at most the request timeout.
 *
 * The area is a fixed number of blocks: an entry is a chain of blocks
 * holding its key, then its body.  The least recently used entries make
 * room; an entry larger than a quarter of the area is not kept.  Entries
 * are found through a hash of identity and key; the key itself is
 * compared too, so a hash collision can never answer another request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "cloud_fdw.h"

#define CF_CACHE_BLOCK_SIZE 4096
#define CF_NONE (-1)

/* What one statement's writes remember for the end, at most. */
#define CF_MAX_REMEMBERED_ITEMS 1000
#define CF_MAX_REMEMBERED_BYTES (8 * 1024 * 1024)

typedef struct CfCacheEntry
{
	bool		in_use;
	uint64		hash;			/* of identity and key */
	uint64		generation;		/* tells a ticket's entry from a later one in the slot */
	CfCacheScope scope;
	int32		next;			/* in its bucket, or in the free list */
	int32		first_block;	/* key, then body */
	int32		key_len;
	int64		body_len;		/* -1 while pending */
	int			owner;			/* the pid fetching it, while pending */
	bool		doomed;			/* pending, and dropped: its answer is not kept */
	TimestampTz created;
	TimestampTz stored_at;
	TimestampTz last_used;
} CfCacheEntry;

typedef struct CfCacheArea
{
	bool		shared;
	ConditionVariable filled;	/* a pending entry was filled or given up */
	int32		nbuckets;		/* a power of two */
	int32		nentries;
	int32		nblocks;
	int32		free_entry;
	int32		free_block;
	int32		free_blocks;
	uint64		next_generation;
	int64		entries;		/* filled ones */
	int64		bytes;			/* their keys and bodies */
	int64		hits;
	int64		misses;
	int64		evictions;
	Size		buckets_off;
	Size		entries_off;
	Size		links_off;
	Size		blocks_off;
} CfCacheArea;

int			cloud_fdw_cache_ttl = -1;
int			cloud_fdw_cache_size_kb = 32 * 1024;

static CfCacheArea *shared_area = NULL;
static LWLock *shared_lock = NULL;
static CfCacheArea *local_area = NULL;

/*
 * Pending entries this backend holds: while it holds any, it never waits.
 * Each belongs to an exchange whose memory context gives it up when reset,
 * which a backend's exit does too (it aborts its transaction first).
 */
static int	my_pending = 0;

/* What the writes of the running statement will drop and replace at its end. */
typedef struct CfRememberedItem
{
	CfCacheScope scope;
	char	   *key;
	size_t		key_len;
	char	   *body;
	size_t		body_len;
} CfRememberedItem;

static MemoryContext writes_cxt = NULL;
static List *written_scopes = NIL;	/* CfCacheScope */
static List *remembered_items = NIL;	/* CfRememberedItem */
static size_t remembered_bytes = 0;
static bool remembered_overflow = false;

/* ----------------------------------------------------------------
 * The area
 * ----------------------------------------------------------------
 */

static Size
layout_area(Size bytes, CfCacheArea *layout)
{
	Size		per_block = CF_CACHE_BLOCK_SIZE + sizeof(int32) * 2 + sizeof(CfCacheEntry);
	int32		nblocks = (int32) Max(16, bytes / per_block);
	Size		size = MAXALIGN(sizeof(CfCacheArea));

	memset(layout, 0, sizeof(CfCacheArea));
	layout->nblocks = nblocks;
	layout->nentries = nblocks;
	layout->nbuckets = (int32) pg_prevpower2_32((uint32) nblocks);
	layout->buckets_off = size;
	size += MAXALIGN(sizeof(int32) * layout->nbuckets);
	layout->entries_off = size;
	size += MAXALIGN(sizeof(CfCacheEntry) * layout->nentries);
	layout->links_off = size;
	size += MAXALIGN(sizeof(int32) * layout->nblocks);
	layout->blocks_off = size;
	size += (Size) CF_CACHE_BLOCK_SIZE * layout->nblocks;
	return size;
}

static Size
area_size(void)
{
	CfCacheArea layout;

	return layout_area((Size) cloud_fdw_cache_size_kb * 1024, &layout);
}

#define AREA_BUCKETS(a) ((int32 *) ((char *) (a) + (a)->buckets_off))
#define AREA_ENTRIES(a) ((CfCacheEntry *) ((char *) (a) + (a)->entries_off))
#define AREA_LINKS(a) ((int32 *) ((char *) (a) + (a)->links_off))
#define AREA_BLOCK(a, i) ((char *) (a) + (a)->blocks_off + (Size) (i) * CF_CACHE_BLOCK_SIZE)

static void
init_area(CfCacheArea *area, bool shared)
{
	CfCacheArea layout;
	CfCacheEntry *entries;
	int32	   *links;

	layout_area((Size) cloud_fdw_cache_size_kb * 1024, &layout);
	*area = layout;
	area->shared = shared;
	ConditionVariableInit(&area->filled);
	area->next_generation = 1;
	for (int i = 0; i < area->nbuckets; i++)
		AREA_BUCKETS(area)[i] = CF_NONE;
	entries = AREA_ENTRIES(area);
	links = AREA_LINKS(area);
	for (int i = 0; i < area->nentries; i++)
	{
		memset(&entries[i], 0, sizeof(CfCacheEntry));
		entries[i].next = i + 1 < area->nentries ? i + 1 : CF_NONE;
	}
	for (int i = 0; i < area->nblocks; i++)
		links[i] = i + 1 < area->nblocks ? i + 1 : CF_NONE;
	area->free_entry = 0;
	area->free_block = 0;
	area->free_blocks = area->nblocks;
}

/* From the shmem_request_hook: the area and its lock. */
void
cf_cache_request_shmem(void)
{
	RequestAddinShmemSpace(area_size());
	RequestNamedLWLockTranche("cloud_fdw cache", 1);
}

/* From the shmem_startup_hook, under AddinShmemInitLock. */
void
cf_cache_attach_shmem(void)
{
	bool		found;

	shared_area = ShmemInitStruct("cloud_fdw cache", area_size(), &found);
	shared_lock = &(GetNamedLWLockTranche("cloud_fdw cache"))->lock;
	if (!found)
		init_area(shared_area, true);
}

/* The area: shared, else this backend's, made on first use when create. */
static CfCacheArea *
get_area(bool create)
{
	if (shared_area != NULL)
		return shared_area;
	if (local_area == NULL && create)
	{
		local_area = MemoryContextAllocExtended(TopMemoryContext, area_size(),
												MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (local_area == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not allocate the cache of cloud_fdw"),
					 errdetail("cloud_fdw.cache_size is %d kB.", cloud_fdw_cache_size_kb),
					 errhint("Lower cloud_fdw.cache_size, or turn the cache off with cloud_fdw.cache_ttl = 0.")));
		init_area(local_area, false);
	}
	return local_area;
}

static void
lock_area(CfCacheArea *area, LWLockMode mode)
{
	if (area->shared)
		LWLockAcquire(shared_lock, mode);
}

static void
unlock_area(CfCacheArea *area)
{
	if (area->shared)
		LWLockRelease(shared_lock);
}

/* Wake the backends waiting for a pending entry; call without the lock. */
static void
wake_waiters(CfCacheArea *area)
{
	if (area->shared)
		ConditionVariableBroadcast(&area->filled);
}

/* ----------------------------------------------------------------
 * Entries and their blocks (the caller holds the lock)
 * ----------------------------------------------------------------
 */

static int32
blocks_for(Size len)
{
	return (int32) Max(1, (len + CF_CACHE_BLOCK_SIZE - 1) / CF_CACHE_BLOCK_SIZE);
}

static void
free_blocks(CfCacheArea *area, int32 block)
{
	int32	   *links = AREA_LINKS(area);

	while (block != CF_NONE)
	{
		int32		next = links[block];

		links[block] = area->free_block;
		area->free_block = block;
		area->free_blocks++;
		block = next;
	}
}

/* Take an entry out of its bucket and give back its slot and blocks. */
static void
free_entry(CfCacheArea *area, int32 index)
{
	CfCacheEntry *entries = AREA_ENTRIES(area);
	CfCacheEntry *e = &entries[index];
	int32	   *link = &AREA_BUCKETS(area)[e->hash & (area->nbuckets - 1)];

	while (*link != index)
		link = &entries[*link].next;
	*link = e->next;
	if (e->body_len >= 0)
	{
		area->entries--;
		area->bytes -= e->key_len + e->body_len;
	}
	free_blocks(area, e->first_block);
	e->in_use = false;
	e->first_block = CF_NONE;
	e->next = area->free_entry;
	area->free_entry = index;
}

/* Drop the least recently used filled entry; false when there is none. */
static bool
evict_one(CfCacheArea *area)
{
	CfCacheEntry *entries = AREA_ENTRIES(area);
	int32		oldest = CF_NONE;

	for (int32 i = 0; i < area->nentries; i++)
		if (entries[i].in_use && entries[i].body_len >= 0 &&
			(oldest == CF_NONE || entries[i].last_used < entries[oldest].last_used))
			oldest = i;
	if (oldest == CF_NONE)
		return false;
	free_entry(area, oldest);
	area->evictions++;
	return true;
}

/* A free entry slot in a bucket, making room if needed; CF_NONE if none can be had. */
static int32
new_entry(CfCacheArea *area, uint64 hash, const CfCacheScope *scope, Size key_len)
{
	CfCacheEntry *e;
	int32		index;
	int32	   *bucket = &AREA_BUCKETS(area)[hash & (area->nbuckets - 1)];

	if (area->free_entry == CF_NONE && !evict_one(area))
		return CF_NONE;
	index = area->free_entry;
	e = &AREA_ENTRIES(area)[index];
	area->free_entry = e->next;
	memset(e, 0, sizeof(CfCacheEntry));
	e->in_use = true;
	e->hash = hash;
	e->generation = area->next_generation++;
	e->scope = *scope;
	e->key_len = (int32) key_len;
	e->body_len = -1;
	e->first_block = CF_NONE;
	e->next = *bucket;
	*bucket = index;
	return index;
}

/* Copy len bytes from offset of a chain of blocks, or compare them with dst. */
static bool
chain_bytes(CfCacheArea *area, int32 block, Size offset, char *dst, Size len, bool compare)
{
	int32	   *links = AREA_LINKS(area);
	Size		done = 0;

	while (offset >= CF_CACHE_BLOCK_SIZE)
	{
		block = links[block];
		offset -= CF_CACHE_BLOCK_SIZE;
	}
	while (done < len)
	{
		Size		n = Min(len - done, CF_CACHE_BLOCK_SIZE - offset);
		char	   *src = AREA_BLOCK(area, block) + offset;

		if (compare ? memcmp(dst + done, src, n) != 0 : (memcpy(dst + done, src, n), false))
			return false;
		done += n;
		offset = 0;
		block = links[block];
	}
	return true;
}

/*
 * Store key and body in a filled entry's blocks, evicting others as needed
 * (never the entry itself, which is pending until now); false if they do
 * not fit.
 */
static bool
store_bytes(CfCacheArea *area, int32 index, const char *key, Size key_len,
			const char *body, Size body_len)
{
	CfCacheEntry *e = &AREA_ENTRIES(area)[index];
	int32	   *links = AREA_LINKS(area);
	int32		needed = blocks_for(key_len + body_len);
	int32	   *tail = &e->first_block;
	Size		offset = 0;

	if (needed > area->nblocks / 4)
		return false;
	while (area->free_blocks < needed)
		if (!evict_one(area))
			return false;
	for (int32 i = 0; i < needed; i++)
	{
		int32		block = area->free_block;

		area->free_block = links[block];
		area->free_blocks--;
		links[block] = CF_NONE;
		*tail = block;
		tail = &links[block];
	}
	for (int32 block = e->first_block; block != CF_NONE; block = links[block])
	{
		char	   *dst = AREA_BLOCK(area, block);
		Size		room = CF_CACHE_BLOCK_SIZE;

		if (offset < key_len)
		{
			Size		n = Min(room, key_len - offset);

			memcpy(dst, key + offset, n);
			dst += n;
			room -= n;
			offset += n;
		}
		if (offset >= key_len && room > 0 && offset - key_len < body_len)
		{
			Size		n = Min(room, body_len - (offset - key_len));

			memcpy(dst, body + (offset - key_len), n);
			offset += n;
		}
	}
	e->body_len = (int64) body_len;
	e->stored_at = e->last_used = GetCurrentTimestamp();
	e->owner = 0;
	area->entries++;
	area->bytes += key_len + body_len;
	return true;
}

static bool
same_identity(const CfCacheEntry *e, const CfCacheScope *scope)
{
	return memcmp(e->scope.identity, scope->identity, CF_IDENTITY_LEN) == 0;
}

/* A filled entry answering exactly this key under this identity. */
static bool
entry_answers(CfCacheArea *area, const CfCacheEntry *e, uint64 hash,
			  const CfCacheScope *scope, const char *key, Size key_len)
{
	return e->in_use && e->body_len >= 0 && e->hash == hash && e->key_len == key_len &&
		same_identity(e, scope) &&
		chain_bytes(area, e->first_block, 0, (char *) key, key_len, true);
}

/* Drop the filled entries of this key, which a newer answer replaces. */
static void
drop_older_answers(CfCacheArea *area, uint64 hash, const CfCacheScope *scope,
				   const char *key, Size key_len, int32 keep)
{
	CfCacheEntry *entries = AREA_ENTRIES(area);
	int32		i = AREA_BUCKETS(area)[hash & (area->nbuckets - 1)];

	while (i != CF_NONE)
	{
		int32		next = entries[i].next;

		if (i != keep && entry_answers(area, &entries[i], hash, scope, key, key_len))
			free_entry(area, i);
		i = next;
	}
}

static uint64
key_hash(const CfCacheScope *scope, const char *key, Size key_len)
{
	uint64		seed = hash_bytes_extended(scope->identity, CF_IDENTITY_LEN, 0);

	return hash_bytes_extended((const unsigned char *) key, key_len, seed);
}

/* ----------------------------------------------------------------
 * Looking up, filling, giving up
 * ----------------------------------------------------------------
 */

/*
 * The answer to key under the scope's identity, if one was stored at most
 * ttl_ms before "since" (the query's start) or after it: true, with the
 * body copied into cxt.  Otherwise false, and *ticket names a pending
 * entry the caller fills with the answer it fetches (0: nothing to fill).
 * When another backend is fetching the same answer, wait for it, at most
 * until wait_ms after it started.
 */
bool
cf_cache_lookup(const CfCacheScope *scope, const char *key, Size key_len,
				TimestampTz since, int ttl_ms, int wait_ms, MemoryContext cxt,
				char **body, Size *body_len, CfCacheTicket *ticket)
{
	CfCacheArea *area = get_area(true);
	CfCacheEntry *entries = AREA_ENTRIES(area);
	uint64		hash = key_hash(scope, key, key_len);
	TimestampTz oldest = TimestampTzPlusMilliseconds(since, -ttl_ms);
	bool		hit = false;

	memset(ticket, 0, sizeof(CfCacheTicket));
	for (;;)
	{
		CfCacheEntry *peer = NULL;
		int32		found = CF_NONE;
		TimestampTz now = GetCurrentTimestamp();

		lock_area(area, LW_EXCLUSIVE);
		for (int32 i = AREA_BUCKETS(area)[hash & (area->nbuckets - 1)]; i != CF_NONE;
			 i = entries[i].next)
		{
			CfCacheEntry *e = &entries[i];

			if (e->body_len >= 0)
			{
				if (e->stored_at >= oldest &&
					entry_answers(area, e, hash, scope, key, key_len))
					found = i;
			}
			else if (!e->doomed && e->owner != MyProcPid && e->hash == hash &&
					 e->key_len == key_len && same_identity(e, scope))
				peer = e;
		}
		if (found != CF_NONE)
		{
			CfCacheEntry *e = &entries[found];

			*body_len = (Size) e->body_len;
			*body = MemoryContextAllocHuge(cxt, *body_len + 1);
			chain_bytes(area, e->first_block, e->key_len, *body, *body_len, false);
			(*body)[*body_len] = '\0';
			e->last_used = now;
			area->hits++;
			hit = true;
			unlock_area(area);
			break;
		}
		if (peer != NULL && my_pending == 0 &&
			now < TimestampTzPlusMilliseconds(peer->created, wait_ms))
		{
			long		wait = TimestampDifferenceMilliseconds(now,
															   TimestampTzPlusMilliseconds(peer->created, wait_ms));

			unlock_area(area);
			(void) ConditionVariableTimedSleep(&area->filled, Max(1, wait),
											   cf_wait_event_request());
			continue;
		}

		/* a miss: this backend fetches it */
		area->misses++;
		found = new_entry(area, hash, scope, key_len);
		if (found != CF_NONE)
		{
			entries[found].owner = MyProcPid;
			entries[found].created = now;
			ticket->index = found;
			ticket->generation = entries[found].generation;
			my_pending++;
		}
		unlock_area(area);
		break;
	}
	if (area->shared)
		ConditionVariableCancelSleep();
	return hit;
}

/* The pending entry of a ticket of ours, or NULL if it is gone. */
static CfCacheEntry *
ticket_entry(CfCacheArea *area, const CfCacheTicket *ticket)
{
	CfCacheEntry *e = &AREA_ENTRIES(area)[ticket->index];

	return (e->in_use && e->generation == ticket->generation && e->body_len < 0) ? e : NULL;
}

/*
 * Settle a pending entry of ours: fill it with the answer fetched, or with
 * body NULL give it up (an error, an early end).  A doomed entry is
 * dropped.  No error may be raised: it also runs in reset callbacks.
 */
static void
settle_ticket(CfCacheTicket *ticket, const char *key, Size key_len,
			  const char *body, Size body_len)
{
	CfCacheArea *area = get_area(false);
	CfCacheEntry *e;

	if (ticket->generation == 0 || area == NULL)
		return;
	lock_area(area, LW_EXCLUSIVE);
	e = ticket_entry(area, ticket);
	if (e != NULL)
	{
		int32		index = ticket->index;

		if (body == NULL || e->doomed ||
			!store_bytes(area, index, key, key_len, body, body_len))
			free_entry(area, index);
		else
			drop_older_answers(area, e->hash, &e->scope, key, key_len, index);
	}
	unlock_area(area);
	my_pending--;
	memset(ticket, 0, sizeof(CfCacheTicket));
	wake_waiters(area);
}

void
cf_cache_fill(CfCacheTicket *ticket, const char *key, Size key_len,
			  const char *body, Size body_len)
{
	settle_ticket(ticket, key, key_len, body, body_len);
}

void
cf_cache_abandon(CfCacheTicket *ticket)
{
	settle_ticket(ticket, NULL, 0, NULL, 0);
}

/* Store an answer directly (the item a write answered, as its get). */
static void
put_answer(CfCacheArea *area, const CfCacheScope *scope, const char *key, Size key_len,
		   const char *body, Size body_len)
{
	uint64		hash = key_hash(scope, key, key_len);
	int32		index;

	lock_area(area, LW_EXCLUSIVE);
	index = new_entry(area, hash, scope, key_len);
	if (index != CF_NONE)
	{
		if (store_bytes(area, index, key, key_len, body, body_len))
			drop_older_answers(area, hash, scope, key, key_len, index);
		else
			free_entry(area, index);
	}
	unlock_area(area);
}

/* What a drop matches. */
typedef enum CfDropBy
{
	CF_DROP_ALL,
	CF_DROP_IDENTITY,			/* of the scope */
	CF_DROP_RESOURCE,			/* identity and resource of the scope */
	CF_DROP_SERVER,				/* server_hash of the scope */
	CF_DROP_MAPPING				/* mapping_hash of the scope */
} CfDropBy;

static bool
drop_matches(const CfCacheEntry *e, CfDropBy by, const CfCacheScope *scope)
{
	switch (by)
	{
		case CF_DROP_ALL:
			return true;
		case CF_DROP_IDENTITY:
			return same_identity(e, scope);
		case CF_DROP_RESOURCE:
			return same_identity(e, scope) && e->scope.resource == scope->resource;
		case CF_DROP_SERVER:
			return e->scope.server_hash == scope->server_hash;
		case CF_DROP_MAPPING:
			return e->scope.mapping_hash == scope->mapping_hash;
	}
	return false;
}

/* Drop the matching entries, dooming pending ones; the filled ones dropped. */
static int64
drop_entries(CfCacheArea *area, CfDropBy by, const CfCacheScope *scope)
{
	CfCacheEntry *entries = AREA_ENTRIES(area);
	int64		dropped = 0;

	lock_area(area, LW_EXCLUSIVE);
	for (int32 i = 0; i < area->nentries; i++)
	{
		if (!entries[i].in_use || !drop_matches(&entries[i], by, scope))
			continue;
		if (entries[i].body_len < 0)
			entries[i].doomed = true;
		else
		{
			free_entry(area, i);
			dropped++;
		}
	}
	unlock_area(area);
	return dropped;
}

/* ----------------------------------------------------------------
 * Writes: what the statement drops and replaces when it ends
 * ----------------------------------------------------------------
 */

static void
forget_writes(void)
{
	written_scopes = NIL;
	remembered_items = NIL;
	remembered_bytes = 0;
	remembered_overflow = false;
	if (writes_cxt != NULL)
		MemoryContextReset(writes_cxt);
}

/*
 * Drop the entries of every identity and resource written, then keep the
 * items the writes answered (not on abort: the statement's answers may
 * not all have been read).
 */
static void
end_writes(bool keep_items)
{
	CfCacheArea *area = get_area(false);
	ListCell   *lc;

	if (area != NULL)
	{
		foreach(lc, written_scopes)
			drop_entries(area, CF_DROP_RESOURCE, (CfCacheScope *) lfirst(lc));
		if (keep_items)
			foreach(lc, remembered_items)
		{
			CfRememberedItem *item = (CfRememberedItem *) lfirst(lc);

			put_answer(area, &item->scope, item->key, item->key_len,
					   item->body, item->body_len);
		}
	}
	forget_writes();
}

static void
cache_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			end_writes(false);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			end_writes(true);
			break;
		default:
			break;
	}
}

static void
cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		end_writes(false);
}

/* A write of the scope's identity and resource is about to be sent. */
void
cf_cache_note_write(const CfCacheScope *scope)
{
	ListCell   *lc;
	CfCacheScope *written;
	MemoryContext oldcxt;

	if (writes_cxt == NULL)
	{
		writes_cxt = AllocSetContextCreate(TopMemoryContext, "cloud_fdw cache writes",
										   ALLOCSET_SMALL_SIZES);
		RegisterXactCallback(cache_xact_callback, NULL);
		RegisterSubXactCallback(cache_subxact_callback, NULL);
	}
	foreach(lc, written_scopes)
	{
		written = (CfCacheScope *) lfirst(lc);
		if (memcmp(written->identity, scope->identity, CF_IDENTITY_LEN) == 0 &&
			written->resource == scope->resource)
			return;
	}
	oldcxt = MemoryContextSwitchTo(writes_cxt);
	written = palloc(sizeof(CfCacheScope));
	*written = *scope;
	written_scopes = lappend(written_scopes, written);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * An item a write answered, as the answer its get would have: kept when
 * the statement ends.  A statement that writes many rows keeps the first
 * ones only; the others are simply fetched again.
 */
void
cf_cache_note_answer(const CfCacheScope *scope, const char *key, Size key_len,
					 const char *body, Size body_len)
{
	CfRememberedItem *item;
	MemoryContext oldcxt;

	Assert(writes_cxt != NULL);
	if (remembered_overflow ||
		list_length(remembered_items) >= CF_MAX_REMEMBERED_ITEMS ||
		remembered_bytes + key_len + body_len > CF_MAX_REMEMBERED_BYTES)
	{
		remembered_overflow = true;
		return;
	}
	oldcxt = MemoryContextSwitchTo(writes_cxt);
	item = palloc(sizeof(CfRememberedItem));
	item->scope = *scope;
	item->key = pnstrdup(key, key_len);
	item->key_len = key_len;
	item->body = pnstrdup(body, body_len);
	item->body_len = body_len;
	remembered_items = lappend(remembered_items, item);
	remembered_bytes += key_len + body_len;
	MemoryContextSwitchTo(oldcxt);
}

/* The statement's writes are done (the end of an UPDATE). */
void
cf_cache_end_statement(void)
{
	end_writes(true);
}

/* ----------------------------------------------------------------
 * Catalog changes, settings, and SQL functions
 * ----------------------------------------------------------------
 */

/*
 * A server or user mapping was altered or dropped: its entries go.  In the
 * shared area, a reset (hashvalue 0) is ignored: the backend that made the
 * change sees its own message with the exact hash value, and a reset only
 * means that some other backend fell behind.
 */
static void
drop_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	CfCacheArea *area = get_area(false);
	CfCacheScope scope = {0};

	if (area == NULL || (hashvalue == 0 && area->shared))
		return;
	scope.server_hash = scope.mapping_hash = hashvalue;
	drop_entries(area, hashvalue == 0 ? CF_DROP_ALL
				 : cacheid == FOREIGNSERVEROID ? CF_DROP_SERVER : CF_DROP_MAPPING, &scope);
}

/* From _PG_init. */
void
cf_cache_init(void)
{
	DefineCustomIntVariable("cloud_fdw.cache_ttl",
							"Caps the cache_ttl of foreign tables; 0 turns the cache off.",
							"-1 leaves each table's cache_ttl as it is.",
							&cloud_fdw_cache_ttl,
							-1, -1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	/* not PGC_POSTMASTER, which a library loaded late may not define */
	DefineCustomIntVariable("cloud_fdw.cache_size",
							"Memory for the cache of read answers.",
							"Shared by all backends and read at server start when cloud_fdw is in "
							"shared_preload_libraries; else each backend's, read when it first uses the cache.",
							&cloud_fdw_cache_size_kb,
							32 * 1024, 256, 16 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, drop_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, drop_changed, (Datum) 0);
}

/* The time-to-live a query gives a table's answers now: 0 for none. */
int
cf_cache_ttl_ms(const CfOptions *opts)
{
	if (opts->cache_ttl_ms <= 0 || cloud_fdw_cache_ttl < 0)
		return Max(opts->cache_ttl_ms, 0);
	return Min(opts->cache_ttl_ms, cloud_fdw_cache_ttl);
}

PG_FUNCTION_INFO_V1(cloud_fdw_cache_stats);

Datum
cloud_fdw_cache_stats(PG_FUNCTION_ARGS)
{
	CfCacheArea *area = get_area(false);
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	memset(values, 0, sizeof(values));
	if (area != NULL)
	{
		lock_area(area, LW_SHARED);
		values[0] = Int64GetDatum(area->entries);
		values[1] = Int64GetDatum(area->bytes);
		values[2] = Int64GetDatum(area->hits);
		values[3] = Int64GetDatum(area->misses);
		values[4] = Int64GetDatum(area->evictions);
		unlock_area(area);
	}
	else
		for (int i = 0; i < 5; i++)
			values[i] = Int64GetDatum(0);
	values[5] = Int64GetDatum(area != NULL ? (int64) area->nblocks * CF_CACHE_BLOCK_SIZE : 0);
	values[6] = BoolGetDatum(shared_area != NULL);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Drop the answers of the scope's identity, or all of them (scope NULL);
 * returns how many.  Pending ones are doomed, and not counted.
 */
int64
cf_cache_clear(const CfCacheScope *scope)
{
	CfCacheArea *area = get_area(false);

	if (area == NULL)
		return 0;
	return drop_entries(area, scope ? CF_DROP_IDENTITY : CF_DROP_ALL, scope);
}

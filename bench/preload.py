"""History for bench/pipeline.py --preload N: N leads as the four services would hold them after a couple of years,
written in bulk into their own tables (PostgreSQL's generate_series, in chunks), so throughput, latency and the
read APIs are measured against tables of a real size rather than empty ones.

Per lead: intake's lead (its id is not derived from its address, as a lead imported under a source's id
would not be: the benchmark's new leads never meet these); the scorer's profile, three activities and (one
lead in three) an owner; the qualifier's lead with its entry transition and, past `lead`, the transition to
its stage; the forecast's stage, stage changes and segment. Leads that reached opportunity, customer or
closed_lost have an opportunity (open, won or lost) in the qualifier and in the forecast with its revision.
The mix: 55 % lead, 20 % mql, 8 % prospect, 4 % opportunity, 2 % customer, 5 % nurture, 4 % disqualified,
2 % closed_lost.
"""

import asyncio
import time

import asyncpg

from bench.common import dsn

CHUNK = 100_000

# g is the lead's number; every column is a function of it, so a run is repeatable.
_LEAD = """
  md5('preload-' || g)::uuid::text AS lead_id,
  'pre.' || g || '@company' || (g % 20000) || '.example' AS email,
  'company' || (g % 20000) || '.example' AS domain,
  (ARRAY['CTO','VP Operations','Head of Marketing','Engineer','Student','CFO','Analyst','Director of Sales'])
    [1 + g % 8] AS job_title,
  'Company ' || (g % 20000) AS company,
  (ARRAY['DE','US','GB','FR','NL','SE','ES','IT'])[1 + g % 8] AS country,
  now() - make_interval(days => (g % 700)::int, mins => (g % 1440)::int) AS seen_at,
  ((g * 7919) % 1000) / 10.0 AS score,
  CASE WHEN g % 100 < 55 THEN 'lead' WHEN g % 100 < 75 THEN 'mql' WHEN g % 100 < 83 THEN 'prospect'
       WHEN g % 100 < 87 THEN 'opportunity' WHEN g % 100 < 89 THEN 'customer' WHEN g % 100 < 94 THEN 'nurture'
       WHEN g % 100 < 98 THEN 'disqualified' ELSE 'closed_lost' END AS stage,
  CASE WHEN g % 3 = 0 THEN 'rep' || (g % 20) || '@example.com' END AS owner
"""

_STATEMENTS = [
    # intake
    """INSERT INTO intake.leads (lead_id, email, first_name, last_name, job_title, company, company_domain, country,
         submissions, first_seen_at, last_seen_at)
       SELECT lead_id, email, 'Pre', 'Load ' || g, job_title, company, domain, country, 1, seen_at, seen_at
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s""",
    # scorer
    """INSERT INTO scorer.profiles (lead_id, job_title, company, free_mail, country, fit, engagement, score, segment,
         mql, factors, activity_count, rules_version, scored_at, email_domain, source, first_seen_at, probability)
       SELECT lead_id, job_title, company, false, country, score, score / 2, score,
         CASE WHEN score >= 70 THEN 'hot' WHEN score >= 40 THEN 'warm' ELSE 'cold' END, score >= 50,
         '[]'::json, 3, 'preload', seen_at, domain, 'generic', seen_at,
         CASE WHEN g % 10 = 0 THEN NULL ELSE ((g * 104729) % 1000) / 1000.0 END
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s""",
    """INSERT INTO scorer.activities (lead_id, event_id, activity_type, occurred_at, minutes)
       SELECT lead_id, md5('activity-' || g || '-' || k)::uuid::text,
         (ARRAY['form_submitted','email_opened','page_viewed'])[k], seen_at + make_interval(days => k), NULL
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s CROSS JOIN generate_series(1, 3) k""",
    """INSERT INTO scorer.owners (lead_id, owner, changed_at)
       SELECT lead_id, owner, seen_at FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s
       WHERE owner IS NOT NULL""",
    # qualifier
    """INSERT INTO qualifier.leads (lead_id, email, job_title, company, source, stage, owner, score, segment, mql,
         stage_changed_at, updated_at, facts, last_activity_at)
       SELECT lead_id, email, job_title, company, 'generic', stage, owner, score,
         CASE WHEN score >= 70 THEN 'hot' WHEN score >= 40 THEN 'warm' ELSE 'cold' END, score >= 50,
         seen_at + interval '1 day', seen_at + interval '1 day', '{{}}'::json, seen_at + interval '3 days'
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s""",
    """INSERT INTO qualifier.transitions (lead_id, from_stage, to_stage, reason, decided_by, criteria, rules_version,
         event_id, changed_at)
       SELECT lead_id, NULL, 'lead', 'captured', 'rules', '[]'::json, 'preload', md5('entry-' || g)::uuid::text,
         seen_at
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s
       UNION ALL
       SELECT lead_id, 'lead', stage, 'preloaded history', 'rules', '[]'::json, 'preload',
         md5('move-' || g)::uuid::text, seen_at + interval '1 day'
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s WHERE stage <> 'lead'""",
    """INSERT INTO qualifier.opportunities (opportunity_id, lead_id, revision, name, amount, currency, pipeline_stage,
         probability, forecast_category, expected_close_date, status, owner, source, close_reason, opened_at,
         changed_at, closed_at)
       SELECT opportunity_id, lead_id, 1, 'Deal ' || g, amount, 'USD', pipeline_stage, probability, category,
         close_date, status, owner, 'generic', NULL, seen_at + interval '2 days', seen_at + interval '2 days',
         CASE WHEN status <> 'open' THEN seen_at + interval '40 days' END
       FROM ({opportunity}) o""",
    # forecast
    """INSERT INTO forecast.opportunities (opportunity_id, lead_id, revision, amount, currency, pipeline_stage,
         probability, forecast_category, expected_close_date, status, owner, source, opened_at, closed_at,
         changed_at, close_reason)
       SELECT opportunity_id, lead_id, 1, amount, 'USD', pipeline_stage, probability, category, close_date, status,
         owner, 'generic', seen_at + interval '2 days', CASE WHEN status <> 'open' THEN seen_at + interval '40 days'
         END, seen_at + interval '2 days', NULL
       FROM ({opportunity}) o""",
    """INSERT INTO forecast.opportunity_revisions (opportunity_id, revision, lead_id, amount, currency,
         pipeline_stage, probability, forecast_category, expected_close_date, status, owner, source, opened_at,
         changed_at, closed_at, close_reason)
       SELECT opportunity_id, 1, lead_id, amount, 'USD', pipeline_stage, probability, category, close_date, status,
         owner, 'generic', seen_at + interval '2 days', seen_at + interval '2 days',
         CASE WHEN status <> 'open' THEN seen_at + interval '40 days' END, NULL
       FROM ({opportunity}) o""",
    """INSERT INTO forecast.lead_stages (lead_id, stage, source, changed_at)
       SELECT lead_id, stage, 'generic', seen_at + interval '1 day'
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s""",
    """INSERT INTO forecast.stage_changes (lead_id, from_stage, to_stage, source, owner, changed_at)
       SELECT lead_id, NULL, 'lead', 'generic', NULL, seen_at
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s
       UNION ALL
       SELECT lead_id, 'lead', stage, 'generic', owner, seen_at + interval '1 day'
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s WHERE stage <> 'lead'""",
    """INSERT INTO forecast.lead_segments (lead_id, segment, scored_at)
       SELECT lead_id, CASE WHEN score >= 70 THEN 'hot' WHEN score >= 40 THEN 'warm' ELSE 'cold' END, seen_at
       FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s""",
]

# Leads that reached opportunity, customer or closed_lost have a deal: open, won or lost with their stage.
_OPPORTUNITY = """
  SELECT g, lead_id, owner, seen_at, md5('opportunity-' || g)::uuid::text AS opportunity_id,
    (5000 + (g * 37) % 95000)::numeric(18, 2) AS amount,
    CASE stage WHEN 'customer' THEN 'commit' WHEN 'closed_lost' THEN 'qualification'
         ELSE (ARRAY['qualification','discovery','proposal','negotiation','commit'])[1 + g % 5] END AS pipeline_stage,
    CASE stage WHEN 'customer' THEN 1.0 WHEN 'closed_lost' THEN 0.0 ELSE 0.2 + (g % 5) * 0.15 END AS probability,
    CASE stage WHEN 'customer' THEN 'closed' WHEN 'closed_lost' THEN 'omitted'
         ELSE (ARRAY['pipeline','pipeline','best_case','best_case','commit'])[1 + g % 5] END AS category,
    CASE stage WHEN 'opportunity' THEN current_date + (g % 180)::int - 30
         ELSE (seen_at + interval '40 days')::date END AS close_date,
    CASE stage WHEN 'customer' THEN 'won' WHEN 'closed_lost' THEN 'lost' ELSE 'open' END AS status
  FROM (SELECT g, {lead} FROM generate_series($1::bigint, $2::bigint) g) s
  WHERE stage IN ('opportunity', 'customer', 'closed_lost')"""


async def preload(database_url: str, leads: int) -> dict[str, int]:
    """Write `leads` leads of history into the migrated schemas; returns the rows each table holds after."""
    connection = await asyncpg.connect(dsn(database_url))
    try:
        for start in range(1, leads + 1, CHUNK):
            end = min(leads, start + CHUNK - 1)
            async with connection.transaction():
                for statement in _STATEMENTS:
                    sql = statement.format(lead=_LEAD, opportunity=_OPPORTUNITY.format(lead=_LEAD))
                    await connection.execute(sql, start, end)
        tables = [
            "intake.leads",
            "scorer.profiles",
            "scorer.activities",
            "scorer.owners",
            "qualifier.leads",
            "qualifier.transitions",
            "qualifier.opportunities",
            "forecast.opportunities",
            "forecast.opportunity_revisions",
            "forecast.lead_stages",
            "forecast.stage_changes",
            "forecast.lead_segments",
        ]
        # As a database that grew over time is: vacuumed (visibility maps for index-only scans, no autovacuum of
        # fresh bulk rows competing with the measurement) and analysed (plans for its real size).
        await connection.execute("VACUUM ANALYZE")
        return {table: int(await connection.fetchval(f"SELECT count(*) FROM {table}")) for table in tables}
    finally:
        await connection.close()


if __name__ == "__main__":
    import sys

    began = time.perf_counter()
    print(asyncio.run(preload(sys.argv[1], int(sys.argv[2]))), f"{time.perf_counter() - began:.0f} s")

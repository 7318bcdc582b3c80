"""Which SQL functions a query may call: the allowlists of the read-only guard (the SQL vocabulary of `db.readonly`).

Per dialect, the built-in functions known to be free of side effects (aggregates, window, string,
numeric, date, conversion, catalog and introspection functions). Any other function is refused by
its name: user-defined functions, package calls and every door to dynamic SQL, unless the site
allows it by name, with a reason, in its inventory (``[site.sql] allow_functions``).

Some functions can never be allowed, not even by a site: those that run SQL given as text (the
guard cannot see what that SQL does) and those that change state on the server. Names are compared
in lower case; a qualified call (``schema.function``, Oracle ``package.function``) only matches a
qualified entry.

Pure data and name rules, no sqlglot: the inventory validates a site's entries with it.
"""

from __future__ import annotations

import re

_DYNAMIC = "runs SQL given as text (dynamic SQL), which the guard cannot inspect"
_STATE = "changes state on the server"
_LOCKS = "takes locks that outlive the query"
_SESSIONS = "signals or ends other sessions"
_OUTSIDE = "reaches another server or the file system"

#: function name -> why no site may allow it
NEVER: dict[str, str] = {
    # PostgreSQL: dynamic SQL
    **{n: _DYNAMIC for n in ("query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
                             "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
                             "schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema", "database_to_xml",
                             "database_to_xmlschema", "database_to_xml_and_xmlschema")},
    # PostgreSQL: state
    **{n: _STATE for n in ("nextval", "setval", "set_config", "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal",
                           "pg_create_restore_point", "pg_start_backup", "pg_stop_backup", "pg_backup_start",
                           "pg_backup_stop", "pg_notify", "txid_current", "pg_current_xact_id", "pg_promote",
                           "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_import_system_collations",
                           "pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
                           "pg_stat_reset_single_function_counters", "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
                           "pg_stat_reset_subscription_stats", "pg_stat_statements_reset", "pg_logical_emit_message",
                           "pg_log_backend_memory_contexts", "pg_replication_slot_advance")},
    **{n: _SESSIONS for n in ("pg_terminate_backend", "pg_cancel_backend")},
    # SQL Server: pass-through to other servers
    **{n: _OUTSIDE for n in ("openquery", "openrowset", "opendatasource")},
    # SQLite: extensions and the shell's file functions
    **{n: _OUTSIDE for n in ("load_extension", "readfile", "writefile", "edit", "fts3_tokenizer")},
}

#: name prefix -> why (families of functions)
NEVER_PREFIXES: dict[str, str] = {
    "dblink": _OUTSIDE,  # PostgreSQL dblink, dblink_exec, dblink_send_query...: a second, writable session
    "pg_advisory": _LOCKS,
    "pg_try_advisory": _LOCKS,
    "lo_": _STATE,  # PostgreSQL large objects: lo_create, lo_import, lo_unlink, lo_put...
    "pg_file_": _OUTSIDE,  # adminpack: pg_file_write, pg_file_unlink...
    "pg_create_": _STATE,  # replication slots, restore points
    "pg_drop_": _STATE,
    "pg_replication_origin_": _STATE,
    "xp_": _OUTSIDE,  # SQL Server extended procedures (xp_cmdshell, xp_dirtree...)
    "sp_": _DYNAMIC,  # SQL Server system procedures (sp_executesql, sp_configure...)
}

#: Oracle packages (also SYS.package) no site may allow a function of
NEVER_PACKAGES: dict[str, str] = {
    **{p: _DYNAMIC for p in ("dbms_sql", "dbms_xmlgen", "dbms_xmlquery", "dbms_xmlstore", "dbms_utility", "dbms_ddl",
                             "dbms_aw", "dbms_java", "dbms_repcat", "dbms_ijob", "dbms_prvtaqis", "dbms_cdc_publish")},
    **{p: _STATE for p in ("dbms_scheduler", "dbms_job", "dbms_pipe", "dbms_alert", "dbms_system", "dbms_backup_restore",
                           "dbms_stats", "dbms_space_admin", "dbms_redefinition", "dbms_shared_pool", "dbms_session",
                           "dbms_aq", "dbms_aqadm", "dbms_flashback", "dbms_network_acl_admin",
                           "dbms_resource_manager", "dbms_workload_repository", "dbms_monitor", "dbms_rls")},
    "dbms_lock": _LOCKS,
    **{p: _OUTSIDE for p in ("utl_file", "utl_http", "utl_tcp", "utl_smtp", "utl_mail", "utl_inaddr", "dbms_ldap")},
}

#: Standard SQL, the same name and meaning in every engine we speak (also used for unknown ODBC dialects)
COMMON = frozenset("""
    count sum avg min max coalesce nullif upper lower trim ltrim rtrim replace round abs floor
    power sqrt sign exp cast case extract grouping
    row_number rank dense_rank ntile lag lead first_value last_value percent_rank cume_dist
""".split())

_POSTGRES = frozenset("""
    bool_and bool_or every string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg stddev stddev_pop
    stddev_samp variance var_pop var_samp bit_and bit_or percentile_cont percentile_disc mode corr covar_pop covar_samp
    nth_value
    greatest least
    length char_length character_length octet_length bit_length btrim substr substring position strpos concat concat_ws left
    right lpad rpad repeat reverse split_part translate format md5 starts_with ascii chr initcap quote_ident
    quote_literal quote_nullable regexp_replace regexp_match regexp_matches regexp_split_to_array
    regexp_split_to_table to_hex encode decode string_to_array array_to_string
    ceil ceiling trunc mod pow cbrt ln log log10 div pi width_bucket
    now current_date current_time current_timestamp localtime localtimestamp clock_timestamp statement_timestamp
    transaction_timestamp date_trunc date_part age make_date make_interval make_timestamp to_timestamp to_date
    to_char to_number justify_days justify_hours isfinite
    version current_setting current_user current_schema current_schemas current_database current_catalog
    session_user pg_backend_pid pg_postmaster_start_time pg_conf_load_time pg_is_in_recovery
    pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_last_xact_replay_timestamp pg_current_wal_lsn pg_wal_lsn_diff
    pg_database_size pg_relation_size pg_total_relation_size pg_table_size pg_indexes_size pg_tablespace_size
    pg_size_pretty pg_size_bytes pg_column_size pg_get_viewdef pg_get_indexdef pg_get_constraintdef pg_get_userbyid
    pg_get_expr pg_typeof format_type obj_description col_description to_regclass to_regtype pg_encoding_to_char
    has_table_privilege has_schema_privilege has_database_privilege has_column_privilege inet_server_addr
    inet_server_port
    json_build_object jsonb_build_object to_json to_jsonb row_to_json json_array_length jsonb_array_length
    json_extract_path_text jsonb_extract_path_text
    unnest array_length cardinality array_position generate_series generate_subscripts
    pg_sleep
""".split())

_ORACLE = frozenset("""
    stddev variance median listagg
    nvl nvl2 decode greatest least lnnvl nanvl
    length lengthb substr substrb instr replace translate lpad rpad concat ascii chr initcap
    regexp_like regexp_substr regexp_replace regexp_instr regexp_count
    ceil trunc mod ln log bitand width_bucket
    sysdate systimestamp current_date current_timestamp localtimestamp add_months months_between last_day next_day
    sys_extract_utc from_tz numtodsinterval numtoyminterval
    to_char to_number to_date to_timestamp
    sys_context userenv
    nth_value ratio_to_report
""".split())

_TSQL = frozenset("""
    count_big stdev stdevp var varp string_agg grouping_id
    isnull iif choose try_cast convert try_convert
    len datalength substring left right replicate reverse charindex patindex stuff concat concat_ws space str char nchar ascii
    unicode quotename format
    ceiling log log10 square pi
    getdate getutcdate sysdatetime sysutcdatetime sysdatetimeoffset current_timestamp dateadd datediff datediff_big
    datename datepart day month year eomonth datefromparts isdate isnumeric
    serverproperty databasepropertyex fileproperty filegroupproperty objectproperty objectpropertyex columnproperty
    db_id db_name object_id object_name object_schema_name schema_id schema_name suser_sname suser_name user_name
    user_id has_perms_by_name is_member is_srvrolemember host_name app_name original_login file_id file_name
    type_name type_id col_name col_length
""".split())

#: pragma_table_info/index_list/index_info: SQLite offers table-valued PRAGMA functions only for pragmas
#: that return results and have no side effect (the integrity checks read constraints with them)
_SQLITE = frozenset("""
    total group_concat string_agg ifnull iif length substr substring instr printf format hex quote typeof char unicode
    date time datetime julianday strftime unixepoch sqlite_version nth_value
    pragma_table_info pragma_index_list pragma_index_info
""".split())

ALLOWED: dict[str, frozenset[str]] = {
    "postgres": COMMON | _POSTGRES,
    "oracle": COMMON | _ORACLE,
    "tsql": COMMON | _TSQL,
    "sqlite": COMMON | _SQLITE,
}

#: a qualifier that names the engine's own built-ins (pg_catalog.upper is upper)
BUILTIN_SCHEMAS = {"postgres": "pg_catalog"}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}(\.[A-Za-z_][A-Za-z0-9_$#]{0,127}){0,2}$")


def allowed_in(dialect: str) -> frozenset[str]:
    """The built-in functions a query may call in `dialect` (only the common core when unknown)."""
    return ALLOWED.get("tsql" if dialect == "mssql" else dialect, COMMON)


def never_reason(name: str) -> str | None:
    """Why no one may allow the function `name` (qualified or not), or None."""
    parts = name.lower().split(".")
    last = parts[-1]
    if last in NEVER:
        return NEVER[last]
    for prefix, why in NEVER_PREFIXES.items():
        if last.startswith(prefix):
            return why
    for part in parts[:-1]:
        if part in NEVER_PACKAGES:
            return NEVER_PACKAGES[part]
    return None


def site_function_problem(name: str) -> str | None:
    """What is wrong with a function name a site asks to allow, or None when it can be allowed."""
    if not _NAME.match(name or ""):
        return (f"{name!r} is not a function name: write it as the query does, e.g. \"dbadmin.study_age\" "
                "(letters, digits, _ $ #; at most two dots)")
    why = never_reason(name)
    if why:
        return f"{name} {why}: no inventory may allow it"
    return None

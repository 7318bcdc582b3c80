"""Built-in transports and database drivers, registered through the public hooks.

Drivers are imported inside the factories: paramiko, oracledb and pyodbc load only when a target
needs them.
"""

from __future__ import annotations

from .hookspecs import hookimpl


def _local(host):
    from .transports.local import LocalShell

    return LocalShell(os_name=host.os)


def _bundle(host):
    from .transports.bundle import BundleShell

    t = host.transport
    return BundleShell(t.bundle, host_name=host.name, os_name=host.os,
                       member_max_mb=t.bundle_member_max_mb, total_max_mb=t.bundle_max_mb)


def _ssh(host):
    from .transports.ssh import SshShell

    return SshShell.for_host(host)


@hookimpl
def impax_register_transports(register):
    register("local", _local)
    register("bundle", _bundle)
    register("ssh", _ssh)


def _sqlite(database, host):
    from .db.sqlite import SqliteSession

    return SqliteSession(database.path)


def _oracle(database, host):
    from .db.oracle import OracleSession

    return OracleSession.for_database(database, host)


def _mssql(database, host):
    from .db.odbc import MssqlSession

    return MssqlSession.for_database(database, host)


def _odbc(database, host):
    from .db.odbc import OdbcSession

    return OdbcSession.for_database(database, host)


@hookimpl
def impax_register_databases(register):
    register("sqlite", _sqlite)
    register("oracle", _oracle)
    register("mssql", _mssql)
    register("odbc", _odbc)

package chtest

import "text/template"

// configTemplate is the server configuration; scripts/clickhouse.sh writes the same one.
// Caches are small because every test package runs its own server. The timezone is UTC so
// DateTime values read back the same on every machine. keep_alive_timeout is Debian's 3
// seconds (the built-in default, 10, holds up shutdown while an HTTP client keeps a connection).
var configTemplate = template.Must(template.New("config.xml").Parse(`<?xml version="1.0"?>
<!-- Written by internal/chtest; rewritten at every Start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>{{html .Dir}}/log/clickhouse-server.log</log>
        <errorlog>{{html .Dir}}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCP}}</tcp_port>
    <http_port>{{.HTTP}}</http_port>
    <path>{{html .Dir}}/data/</path>
    <tmp_path>{{html .Dir}}/tmp/</tmp_path>
    <user_files_path>{{html .Dir}}/user_files/</user_files_path>
    <format_schema_path>{{html .Dir}}/format_schemas/</format_schema_path>
    <users_config>{{html .Dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <keep_alive_timeout>3</keep_alive_timeout>
</yandex>
`))

// usersXML is Debian's /etc/clickhouse-server/users.xml (user default without a password,
// user readonly) limited to loopback clients, plus poll_interval = 1 in the default profile:
// the server's native-protocol handlers check for shutdown only once per poll_interval, so
// with the built-in 10 seconds every idle clickhouse-go connection delays SIGTERM by 10 s.
const usersXML = `<?xml version="1.0"?>
<!-- Written by internal/chtest; rewritten at every Start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>10000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <poll_interval>1</poll_interval>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <readonly>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </readonly>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

{#- Models land exactly in the schema they ask for (`marts`), never in `<target>_<custom>`
    (dbt's default would give `marts_marts`). Without a custom schema: the target's schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

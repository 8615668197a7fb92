-- spells: admitted patient care episodes collapsed to one row per hospital spell, with the
-- admission type and bed days up to the reference date. Episodes of one spell share
-- provider and spell id; the first episode's admission method counts.
-- Parameters: $reference_date.
WITH ranked AS (
    SELECT
        pseudonym, provider_code, spell_id, admission_date, discharge_date, admission_method,
        ROW_NUMBER() OVER (
            PARTITION BY provider_code, spell_id ORDER BY episode_number
        ) AS episode_order
    FROM apc
)
SELECT
    pseudonym,
    provider_code,
    spell_id,
    admission_date,
    discharge_date,
    CASE
        WHEN substr(admission_method, 1, 1) = '2' THEN 'emergency'
        WHEN substr(admission_method, 1, 1) = '1' THEN 'elective'
        WHEN substr(admission_method, 1, 1) = '3' THEN 'maternity'
        ELSE 'other'
    END AS admission_type,
    -- Nights in hospital up to the reference date (a spell spanning it counts to that day).
    CAST(
        (date_part('epoch', CASE
            WHEN discharge_date IS NULL OR discharge_date > $reference_date THEN $reference_date
            ELSE discharge_date
         END) - date_part('epoch', admission_date)) / 86400 AS BIGINT
    ) AS bed_days_to_reference
FROM ranked
WHERE episode_order = 1

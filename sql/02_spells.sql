-- spells: admitted patient care episodes collapsed to one row per hospital spell, with the
-- admission type and bed days up to the reference date. Episodes of one spell share
-- provider and spell id; the first episode (lowest episode number) gives the patient, the
-- dates and the admission method. Ingest quarantines a second episode with the same spell id
-- and episode number from one provider (the contract's unique key), so one episode is first.
-- Parameters: $reference_date.
WITH first_episode AS (
    SELECT provider_code, spell_id, min(episode_number) AS episode_number
    FROM apc
    GROUP BY provider_code, spell_id
),
firsts AS (
    SELECT
        a.pseudonym, a.provider_code, a.spell_id, a.admission_date, a.discharge_date,
        a.admission_method
    FROM apc AS a
    JOIN first_episode AS f
      ON f.provider_code = a.provider_code AND f.spell_id = a.spell_id
     AND f.episode_number = a.episode_number
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
FROM firsts

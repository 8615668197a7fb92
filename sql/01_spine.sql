-- spine: one row per patient registered with one of the ICB's practices on the reference date.
-- The registration in force that day decides the practice (a move between practices is two
-- registrations; the later start wins if they overlap). Patients who died on or before the
-- reference date are excluded.
-- Parameters: $reference_date.
WITH in_force AS (
    SELECT
        pseudonym, practice_code, age, age_band, sex, lsoa_code, imd_decile, postcode_district,
        ROW_NUMBER() OVER (
            PARTITION BY pseudonym ORDER BY registration_start DESC, practice_code
        ) AS pick
    FROM gp_registrations
    WHERE registration_start <= $reference_date
      AND (registration_end IS NULL OR registration_end >= $reference_date)
),
died AS (
    SELECT DISTINCT pseudonym
    FROM gp_registrations
    WHERE registration_end_reason = 'died' AND registration_end <= $reference_date
)
SELECT
    r.pseudonym, r.practice_code, r.age, r.age_band, r.sex, r.lsoa_code, r.imd_decile,
    r.postcode_district
FROM in_force AS r
LEFT JOIN died AS d ON d.pseudonym = r.pseudonym
WHERE r.pick = 1 AND d.pseudonym IS NULL

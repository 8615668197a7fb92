-- spine: one row per patient registered with one of the ICB's practices on the reference date.
-- The registration in force that day decides the practice (a move between practices is two
-- registrations; the later start wins if they overlap, then the later practice code in text
-- order). Patients who died on or before the reference date are excluded. Ingest quarantines
-- a second registration of one patient with the same start at one practice (the contract's
-- unique key), so exactly one registration wins.
-- Parameters: $reference_date.
WITH in_force AS (
    SELECT
        pseudonym, practice_code, age, age_band, sex, lsoa_code, imd_decile, postcode_district,
        concat(CAST(registration_start AS VARCHAR), practice_code) AS pick
    FROM gp_registrations
    WHERE registration_start <= $reference_date
      AND (registration_end IS NULL OR registration_end >= $reference_date)
),
-- An aggregation and a join, not a window: no sort of every registration by pseudonym.
winner AS (
    SELECT pseudonym, max(pick) AS pick
    FROM in_force
    GROUP BY pseudonym
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
JOIN winner AS w ON w.pseudonym = r.pseudonym AND w.pick = r.pick
WHERE NOT EXISTS (SELECT 1 FROM died AS d WHERE d.pseudonym = r.pseudonym)

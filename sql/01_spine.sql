-- spine: one row per patient registered with one of the ICB's practices on the reference date.
-- The registration in force that day decides the practice (a move between practices is two
-- registrations; the later start wins if they overlap, then the later practice code in text
-- order). Patients who died on or before the reference date are excluded. Ingest quarantines
-- a second registration of one patient with the same start at one practice (the contract's
-- unique key), so exactly one registration wins.
-- Ages are whole years on the reference date. Ingest computed them on $ages_as_of (the run's
-- reference date); when the linkage runs as of an earlier date (the risk model's training
-- years, whole years before), the whole years between the two dates are taken off and the
-- 5-year band (0-4, ..., 85-89, 90+) follows the shifted age.
-- Parameters: $reference_date, $ages_as_of.
WITH shift AS (
    SELECT CAST(FLOOR((
        (date_part('year', $ages_as_of) - date_part('year', $reference_date)) * 12
        + date_part('month', $ages_as_of) - date_part('month', $reference_date)
        - CASE WHEN date_part('day', $ages_as_of) < date_part('day', $reference_date) THEN 1 ELSE 0 END
    ) / 12) AS INT) AS years
),
in_force AS (
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
    r.pseudonym, r.practice_code,
    CAST(r.age - sh.years AS INT) AS age,
    CASE
        WHEN sh.years = 0 THEN r.age_band
        WHEN r.age - sh.years >= 90 THEN '90+'
        ELSE concat(
            CAST(CAST(FLOOR((r.age - sh.years) / 5) * 5 AS INT) AS VARCHAR), '-',
            CAST(CAST(FLOOR((r.age - sh.years) / 5) * 5 + 4 AS INT) AS VARCHAR))
    END AS age_band,
    r.sex, r.lsoa_code, r.imd_decile, r.postcode_district
FROM in_force AS r
CROSS JOIN shift AS sh
JOIN winner AS w ON w.pseudonym = r.pseudonym AND w.pick = r.pick
WHERE NOT EXISTS (SELECT 1 FROM died AS d WHERE d.pseudonym = r.pseudonym)

-- features: the patient-level feature table as of the reference date, one row per patient
-- of the spine (phm writes it sorted by pseudonym). Counts are 0 when a patient has no activity.
-- Parameters: $reference_date.
WITH extent AS (
    -- Whether any admitted care is recorded after the reference date (outcome defined).
    SELECT MAX(admission_date) > $reference_date AS has_future FROM spells
)
SELECT
    s.pseudonym,
    s.practice_code,
    s.age,
    s.age_band,
    s.sex,
    s.lsoa_code,
    s.imd_decile,
    COALESCE(a.emergency_admissions_12m, 0) AS emergency_admissions_12m,
    COALESCE(a.emergency_admissions_24m, 0) AS emergency_admissions_24m,
    COALESCE(a.elective_admissions_12m, 0) AS elective_admissions_12m,
    COALESCE(a.elective_admissions_24m, 0) AS elective_admissions_24m,
    COALESCE(a.emergency_bed_days_12m, 0) AS emergency_bed_days_12m,
    COALESCE(a.emergency_bed_days_24m, 0) AS emergency_bed_days_24m,
    COALESCE(a.elective_bed_days_12m, 0) AS elective_bed_days_12m,
    COALESCE(a.elective_bed_days_24m, 0) AS elective_bed_days_24m,
    COALESCE(a.ae_attendances_12m, 0) AS ae_attendances_12m,
    COALESCE(a.ambulance_incidents_12m, 0) AS ambulance_incidents_12m,
    COALESCE(a.ambulance_conveyances_12m, 0) AS ambulance_conveyances_12m,
    COALESCE(a.outpatient_attendances_12m, 0) AS outpatient_attendances_12m,
    COALESCE(a.outpatient_dnas_12m, 0) AS outpatient_dnas_12m,
    COALESCE(a.gp_contacts_12m, 0) AS gp_contacts_12m,
    COALESCE(a.distinct_medicines_12m, 0) AS distinct_medicines_12m,
    COALESCE(a.community_contacts_12m, 0) AS community_contacts_12m,
    COALESCE(a.mental_health_contacts_12m, 0) AS mental_health_contacts_12m,
    CAST(FLOOR((date_part('epoch', $reference_date) - date_part('epoch', a.last_emergency_admission)) / 86400 / 30.4375) AS BIGINT) AS months_since_last_emergency_admission,
    CASE
        WHEN e.has_future THEN CAST(COALESCE(o.emergency_admissions_next_12m, 0) > 0 AS INT)
    END AS emergency_admission_next_12m
FROM spine AS s
CROSS JOIN extent AS e
LEFT JOIN activity AS a ON a.pseudonym = s.pseudonym
LEFT JOIN outcome AS o ON o.pseudonym = s.pseudonym

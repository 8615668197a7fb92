-- activity: one row per pseudonym with every count of contact with services in the look-back
-- windows ending on the reference date. Every source contributes rows of the same shape
-- (UNION ALL) and one aggregation sums them per pseudonym: no join of per-source tables, and
-- an aggregation spills to disk where a join would not. Distinct medicines are counted per
-- patient first, as a distinct count cannot be summed.
-- Parameters: $reference_date, $start_12m, $start_24m (windows are start < date <= reference).
WITH medicines AS (
    SELECT pseudonym, COUNT(DISTINCT dmd_code) AS distinct_medicines
    FROM gp_medications
    WHERE issue_date > $start_12m AND issue_date <= $reference_date
    GROUP BY pseudonym
),
contributions AS (
    SELECT
        pseudonym,
        CASE WHEN admission_type = 'emergency' AND admission_date > $start_12m AND admission_date <= $reference_date THEN 1 ELSE 0 END AS em12,
        CASE WHEN admission_type = 'emergency' AND admission_date > $start_24m AND admission_date <= $reference_date THEN 1 ELSE 0 END AS em24,
        CASE WHEN admission_type = 'elective' AND admission_date > $start_12m AND admission_date <= $reference_date THEN 1 ELSE 0 END AS el12,
        CASE WHEN admission_type = 'elective' AND admission_date > $start_24m AND admission_date <= $reference_date THEN 1 ELSE 0 END AS el24,
        CASE WHEN admission_type = 'emergency' AND admission_date > $start_12m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END AS embd12,
        CASE WHEN admission_type = 'emergency' AND admission_date > $start_24m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END AS embd24,
        CASE WHEN admission_type = 'elective' AND admission_date > $start_12m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END AS elbd12,
        CASE WHEN admission_type = 'elective' AND admission_date > $start_24m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END AS elbd24,
        CASE WHEN admission_type = 'emergency' AND admission_date <= $reference_date THEN admission_date END AS last_emergency,
        0 AS ae, 0 AS amb, 0 AS conv, 0 AS op_att, 0 AS op_dna, 0 AS gp, 0 AS med, 0 AS comm, 0 AS mh
    FROM spells
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 1, 0, 0, 0, 0, 0, 0, 0, 0
    FROM ecds
    WHERE arrival_date > $start_12m AND arrival_date <= $reference_date
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 1,
        CASE WHEN conveyed = 'Y' THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, 0
    FROM ambulance
    WHERE incident_date > $start_12m AND incident_date <= $reference_date
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 0, 0,
        CASE WHEN attendance_status IN ('5', '6') THEN 1 ELSE 0 END,
        CASE WHEN attendance_status IN ('3', '7') THEN 1 ELSE 0 END, 0, 0, 0, 0
    FROM op
    WHERE appointment_date > $start_12m AND appointment_date <= $reference_date
    UNION ALL
    -- Face-to-face, telephone and home-visit encounters.
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 0, 0, 0, 0, 1, 0, 0, 0
    FROM gp_events
    WHERE snomed_concept_id IN ('308335008', '185317003', '439708006')
      AND event_date > $start_12m AND event_date <= $reference_date
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 0, 0, 0, 0, 0, distinct_medicines, 0, 0
    FROM medicines
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM community
    WHERE contact_date > $start_12m AND contact_date <= $reference_date
    UNION ALL
    SELECT pseudonym, 0, 0, 0, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM mental_health
    WHERE contact_date > $start_12m AND contact_date <= $reference_date
)
SELECT
    pseudonym,
    CAST(SUM(em12) AS BIGINT) AS emergency_admissions_12m,
    CAST(SUM(em24) AS BIGINT) AS emergency_admissions_24m,
    CAST(SUM(el12) AS BIGINT) AS elective_admissions_12m,
    CAST(SUM(el24) AS BIGINT) AS elective_admissions_24m,
    CAST(SUM(embd12) AS BIGINT) AS emergency_bed_days_12m,
    CAST(SUM(embd24) AS BIGINT) AS emergency_bed_days_24m,
    CAST(SUM(elbd12) AS BIGINT) AS elective_bed_days_12m,
    CAST(SUM(elbd24) AS BIGINT) AS elective_bed_days_24m,
    MAX(last_emergency) AS last_emergency_admission,
    CAST(SUM(ae) AS BIGINT) AS ae_attendances_12m,
    CAST(SUM(amb) AS BIGINT) AS ambulance_incidents_12m,
    CAST(SUM(conv) AS BIGINT) AS ambulance_conveyances_12m,
    CAST(SUM(op_att) AS BIGINT) AS outpatient_attendances_12m,
    CAST(SUM(op_dna) AS BIGINT) AS outpatient_dnas_12m,
    CAST(SUM(gp) AS BIGINT) AS gp_contacts_12m,
    CAST(SUM(med) AS BIGINT) AS distinct_medicines_12m,
    CAST(SUM(comm) AS BIGINT) AS community_contacts_12m,
    CAST(SUM(mh) AS BIGINT) AS mental_health_contacts_12m
FROM contributions
GROUP BY pseudonym

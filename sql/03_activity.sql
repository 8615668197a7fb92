-- activity: one row per pseudonym with every count of contact with services in the look-back
-- windows ending on the reference date. Each source is aggregated to one row per pseudonym
-- before anything is joined (DataFusion's hash join does not spill; its aggregates do).
-- Parameters: $reference_date, $start_12m, $start_24m (windows are start < date <= reference).
WITH admissions AS (
    SELECT
        pseudonym,
        SUM(CASE WHEN admission_type = 'emergency' AND admission_date > $start_12m AND admission_date <= $reference_date THEN 1 ELSE 0 END) AS emergency_admissions_12m,
        SUM(CASE WHEN admission_type = 'emergency' AND admission_date > $start_24m AND admission_date <= $reference_date THEN 1 ELSE 0 END) AS emergency_admissions_24m,
        SUM(CASE WHEN admission_type = 'elective' AND admission_date > $start_12m AND admission_date <= $reference_date THEN 1 ELSE 0 END) AS elective_admissions_12m,
        SUM(CASE WHEN admission_type = 'elective' AND admission_date > $start_24m AND admission_date <= $reference_date THEN 1 ELSE 0 END) AS elective_admissions_24m,
        SUM(CASE WHEN admission_type = 'emergency' AND admission_date > $start_12m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END) AS emergency_bed_days_12m,
        SUM(CASE WHEN admission_type = 'emergency' AND admission_date > $start_24m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END) AS emergency_bed_days_24m,
        SUM(CASE WHEN admission_type = 'elective' AND admission_date > $start_12m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END) AS elective_bed_days_12m,
        SUM(CASE WHEN admission_type = 'elective' AND admission_date > $start_24m AND admission_date <= $reference_date THEN bed_days_to_reference ELSE 0 END) AS elective_bed_days_24m,
        MAX(CASE WHEN admission_type = 'emergency' AND admission_date <= $reference_date THEN admission_date END) AS last_emergency_admission
    FROM spells
    GROUP BY pseudonym
),
ae AS (
    SELECT pseudonym, COUNT(*) AS ae_attendances_12m
    FROM ecds
    WHERE arrival_date > $start_12m AND arrival_date <= $reference_date
    GROUP BY pseudonym
),
ambulance_12m AS (
    SELECT
        pseudonym,
        COUNT(*) AS ambulance_incidents_12m,
        SUM(CASE WHEN conveyed = 'Y' THEN 1 ELSE 0 END) AS ambulance_conveyances_12m
    FROM ambulance
    WHERE incident_date > $start_12m AND incident_date <= $reference_date
    GROUP BY pseudonym
),
outpatients AS (
    SELECT
        pseudonym,
        SUM(CASE WHEN attendance_status IN ('5', '6') THEN 1 ELSE 0 END) AS outpatient_attendances_12m,
        SUM(CASE WHEN attendance_status IN ('3', '7') THEN 1 ELSE 0 END) AS outpatient_dnas_12m
    FROM op
    WHERE appointment_date > $start_12m AND appointment_date <= $reference_date
    GROUP BY pseudonym
),
gp AS (
    -- Face-to-face, telephone and home-visit encounters.
    SELECT pseudonym, COUNT(*) AS gp_contacts_12m
    FROM gp_events
    WHERE snomed_concept_id IN ('308335008', '185317003', '439708006')
      AND event_date > $start_12m AND event_date <= $reference_date
    GROUP BY pseudonym
),
medicines AS (
    SELECT pseudonym, COUNT(DISTINCT dmd_code) AS distinct_medicines_12m
    FROM gp_medications
    WHERE issue_date > $start_12m AND issue_date <= $reference_date
    GROUP BY pseudonym
),
community_12m AS (
    SELECT pseudonym, COUNT(*) AS community_contacts_12m
    FROM community
    WHERE contact_date > $start_12m AND contact_date <= $reference_date
    GROUP BY pseudonym
),
mental_health_12m AS (
    SELECT pseudonym, COUNT(*) AS mental_health_contacts_12m
    FROM mental_health
    WHERE contact_date > $start_12m AND contact_date <= $reference_date
    GROUP BY pseudonym
),
people AS (
    SELECT pseudonym FROM admissions
    UNION SELECT pseudonym FROM ae
    UNION SELECT pseudonym FROM ambulance_12m
    UNION SELECT pseudonym FROM outpatients
    UNION SELECT pseudonym FROM gp
    UNION SELECT pseudonym FROM medicines
    UNION SELECT pseudonym FROM community_12m
    UNION SELECT pseudonym FROM mental_health_12m
)
SELECT
    p.pseudonym,
    a.emergency_admissions_12m, a.emergency_admissions_24m,
    a.elective_admissions_12m, a.elective_admissions_24m,
    a.emergency_bed_days_12m, a.emergency_bed_days_24m,
    a.elective_bed_days_12m, a.elective_bed_days_24m,
    a.last_emergency_admission,
    ae.ae_attendances_12m,
    amb.ambulance_incidents_12m, amb.ambulance_conveyances_12m,
    o.outpatient_attendances_12m, o.outpatient_dnas_12m,
    g.gp_contacts_12m,
    m.distinct_medicines_12m,
    c.community_contacts_12m,
    mh.mental_health_contacts_12m
FROM people AS p
LEFT JOIN admissions AS a ON a.pseudonym = p.pseudonym
LEFT JOIN ae ON ae.pseudonym = p.pseudonym
LEFT JOIN ambulance_12m AS amb ON amb.pseudonym = p.pseudonym
LEFT JOIN outpatients AS o ON o.pseudonym = p.pseudonym
LEFT JOIN gp AS g ON g.pseudonym = p.pseudonym
LEFT JOIN medicines AS m ON m.pseudonym = p.pseudonym
LEFT JOIN community_12m AS c ON c.pseudonym = p.pseudonym
LEFT JOIN mental_health_12m AS mh ON mh.pseudonym = p.pseudonym

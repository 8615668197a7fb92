-- outcome: emergency admissions in the 12 months after the reference date, used to
-- back-test models. Only defined when the data reach past the reference date.
-- Parameters: $reference_date, $outcome_end (reference date + 12 months).
SELECT
    pseudonym,
    SUM(CASE WHEN admission_type = 'emergency' AND admission_date > $reference_date AND admission_date <= $outcome_end THEN 1 ELSE 0 END) AS emergency_admissions_next_12m
FROM spells
GROUP BY pseudonym

-- segments: one population segment per patient, from the first rule that matches, in order.
--
-- Source: Suffolk and North East Essex ICS's population health management segments, in the
-- order it publishes them: die well > age well > stay well > feel well > be well > live well
-- (SNEE ICB population health management programme). The conditions below are phm's own
-- reading of each segment in terms of phm's features, scores and condition flags, not SNEE's
-- code lists: an ICB edits them (reorder the WHEN lines, change a threshold) and names its
-- own file with `[risk] segments_sql` in the pipeline definition.
--
-- The table `patients` has one row per patient of the spine: pseudonym, age, age_band, sex,
-- imd_decile, risk (predicted), tier, and one column per model feature holding the patient's
-- own value: counts (emergency_admissions_12m, ae_attendances_12m, mental_health_contacts_12m,
-- ...), scores (efi, hfrs, charlson_quan_2011, elixhauser_van_walraven), and 1/0 flags for
-- each Charlson condition (charlson_chf, charlson_metacanc, ...), Elixhauser condition
-- (elixhauser_depre, elixhauser_obes, ...) and eFI deficit (efi_diabetes, efi_falls, ...).
-- `phm query --run RUN "SELECT segment, count(*) FROM risk GROUP BY 1"` shows the result.
SELECT
    pseudonym,
    CASE
        -- Die well: likely to be in the last year of life. Metastatic cancer, or severe
        -- frailty (eFI > 0.36) with two or more emergency admissions in a year, or a high
        -- Hospital Frailty Risk Score (> 15) at 85 or over.
        WHEN charlson_metacanc = 1
            OR (efi > 0.36 AND emergency_admissions_12m >= 2)
            OR (hfrs > 15 AND age >= 85)
            THEN 'die_well'
        -- Age well: frailty. Moderate or severe eFI (> 0.24), or an intermediate or high HFRS
        -- (>= 5).
        WHEN efi > 0.24 OR hfrs >= 5
            THEN 'age_well'
        -- Stay well: living with a long-term physical condition.
        WHEN charlson_chf + charlson_copd + charlson_diab + charlson_diabwc + charlson_rend
                + charlson_canc + charlson_cevd + charlson_dementia + charlson_ami
                + charlson_pvd + charlson_rheumd + charlson_msld + charlson_hp
                + efi_diabetes + efi_heart_failure + efi_chd + efi_ckd + efi_respiratory_disease
                + efi_atrial_fibrillation + efi_stroke_tia + efi_parkinsons + efi_hypertension
                + efi_arthritis + efi_heart_valve_disease + efi_pvd > 0
            THEN 'stay_well'
        -- Feel well: mental health. Contact with mental health services in the last 12 months,
        -- or depression, psychosis, alcohol or drug misuse recorded in admitted care.
        WHEN mental_health_contacts_12m > 0
            OR elixhauser_depre + elixhauser_psycho + elixhauser_alcohol + elixhauser_drug > 0
            THEN 'feel_well'
        -- Be well: emerging risk. Obesity, or two or more A&E attendances or missed outpatient
        -- appointments in the last 12 months.
        WHEN elixhauser_obes = 1 OR ae_attendances_12m >= 2 OR outpatient_dnas_12m >= 2
            THEN 'be_well'
        -- Live well: everyone else.
        ELSE 'live_well'
    END AS segment
FROM patients

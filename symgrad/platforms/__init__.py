"""Where courses already grade: Gradescope's autograder and Otter-Grader's result format.

Built on the public grading entry points only (:class:`symgrad.verify.code.Checker`
and the report :func:`symgrad.verify.grade.grade_folder` writes).
"""
